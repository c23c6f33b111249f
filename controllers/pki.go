package controllers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Lifetimes of the operator's own TLS material for a collector. A serving
// certificate is renewed when less than a third of its life is left; the CA
// outlives many of them and is renewed (with a new serving certificate) the
// same way.
const (
	caLifetime      = 5 * 365 * 24 * time.Hour
	servingLifetime = 90 * 24 * time.Hour
)

// keyPair is a PEM certificate and its PEM private key.
type keyPair struct {
	cert, key []byte
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newCA makes a self-signed ECDSA P-256 CA for one campaign.
func newCA(commonName string, now time.Time) (keyPair, error) {
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"surveyguard"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, nil, nil)
}

// issueServing signs a serving certificate for dnsNames with ca.
func issueServing(ca keyPair, dnsNames []string, now time.Time) (keyPair, error) {
	caCert, caKey, err := parseKeyPair(ca)
	if err != nil {
		return keyPair{}, fmt.Errorf("the campaign CA: %w", err)
	}
	return issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: dnsNames[0]},
		DNSNames:    dnsNames,
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(servingLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, caKey)
}

// issue makes a new ECDSA P-256 key and a certificate for it from tmpl,
// signed by parent (self-signed when parent is nil).
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return keyPair{}, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return keyPair{}, err
	}
	pemKey, err := encodeKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: pemKey}, nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPair(kp keyPair) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := parseCert(kp.cert)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(kp.key)
	if block == nil {
		return nil, nil, errors.New("no PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("the private key is not ECDSA")
	}
	return cert, ec, nil
}

// certFresh says whether the PEM certificate parses, was signed by ca (when
// given), names every one of dnsNames and has more than a third of its
// lifetime left at now.
func certFresh(data []byte, ca []byte, dnsNames []string, now time.Time) bool {
	cert, err := parseCert(data)
	if err != nil {
		return false
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	if cert.NotAfter.Sub(now) < life/3 || now.Before(cert.NotBefore) {
		return false
	}
	for _, n := range dnsNames {
		if cert.VerifyHostname(n) != nil {
			return false
		}
	}
	if ca != nil {
		caCert, err := parseCert(ca)
		if err != nil {
			return false
		}
		pool := x509.NewCertPool()
		pool.AddCert(caCert)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now}); err != nil {
			return false
		}
	}
	return true
}
