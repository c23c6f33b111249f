package collector

import (
	"errors"
	"testing"

	"github.com/surveyguard/surveyguard/internal/collectorapi"
)

// FuzzParseResponse: whatever the body, a response is either refused with a
// 4xx naming the problem or accepted within the configuration's bounds.
func FuzzParseResponse(f *testing.F) {
	cfg, err := collectorapi.ParseConfig([]byte(`
campaign: checkout-nps
question: "How likely are you to recommend Acme Checkout to a friend or colleague?"
consent: {required: true, noticeVersion: "2026-01"}
collect: {comment: true, customerID: true, segments: {plan: [free, pro]}}
store: {driver: sqlite, path: /data/responses.db}
keysDir: /secrets/keys
adminTokenFile: /secrets/admin/token
`))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: cfg}
	f.Add([]byte(`{"score":9,"consent":{"given":true,"noticeVersion":"2026-01"},"comment":"ok","segments":{"plan":"pro"}}`), "key")
	f.Add([]byte(`{"score":7.5}`), "")
	f.Add([]byte(`{"score":3,"email":"a@b.c"}`), "")
	f.Add([]byte(`[1,2]`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		sub, err := s.parseResponse(body, key)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
				t.Fatalf("refusal is not a 4xx with a message: %#v", err)
			}
			return
		}
		if sub.score < 0 || sub.score > 10 || sub.email != nil || len(sub.idempotencyKey) > maxIdempotencyKey {
			t.Fatalf("accepted an invalid response: %+v", sub)
		}
		for k := range sub.segments {
			if k != "plan" {
				t.Fatalf("accepted segment %q", k)
			}
		}
	})
}
