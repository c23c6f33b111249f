package controllers

import "time"

// IssueForTest makes a CA and a serving certificate for names, as an issuer
// outside the operator (cert-manager) would: CA, certificate and key in PEM.
func IssueForTest(cn string, names []string, now time.Time) (ca, cert, key []byte, err error) {
	root, err := newCA(cn, now)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err := issueServing(root, names, now)
	if err != nil {
		return nil, nil, nil, err
	}
	return root.cert, leaf.cert, leaf.key, nil
}

// JobFinished is jobFinished: whether a retention Job no longer runs.
var JobFinished = jobFinished
