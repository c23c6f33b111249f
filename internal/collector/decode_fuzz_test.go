package collector

import (
	"errors"
	"reflect"
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
		if !validText(body) {
			t.Fatalf("accepted a body that is not valid UTF-8 as sent: %q", body)
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

// FuzzDecodeStrict: decodeStrict's fast path changes nothing. For every
// body and each request type, it answers exactly as decodeStrictSlow (the
// walk of every token) does: the same error, or the same decoded value.
func FuzzDecodeStrict(f *testing.F) {
	for _, b := range decodeCorpus {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		compareDecoders(t, body)
	})
}

// TestDecodeStrictFastPath runs FuzzDecodeStrict's comparison on its
// corpus, so that a plain go test checks it too.
func TestDecodeStrictFastPath(t *testing.T) {
	for _, b := range decodeCorpus {
		compareDecoders(t, []byte(b))
	}
}

var decodeCorpus = []string{
	`{"score":9,"consent":{"given":true,"noticeVersion":"2026-01"},"comment":"ok","segments":{"plan":"pro"}}`,
	`{"score":9,"consent":{"given":true,"noticeVersion":"2026-01"},"customerID":"C-1","email":"u1@example.com","comment":"Checkout was quick, call me on +91 98765 43210","segments":{"plan":"pro"}}`,
	` {"score" : 3 , "segments" : { } } `,
	`{"score":9,"score":8}`, `{"Score":9}`, `{"sc\u006fre":9}`, `{"score":"9"}`, `{"score":{"a":1,"a":2}}`,
	`{"score":[1,{"b":true,"b":false}]}`, `{"score":9,"segments":{"plan":"pro","plan":"free"}}`,
	"{\"score\":9,\"customerID\":\"U-\xffX\"}", `{"score":9,"comment":"\ud800"}`, `{"score":9,"comment":"\ud83d\ude00\\ud800"}`,
	`{"score":9,"segments":{"plan":["pro"]}}`, `{"score":9,"consent":{"given":true,"noticeVersion":{"a":1}}}`,
	"{\"segments\":{\"\xff\":\"a\",\"\xfe\":\"b\"}}", `{"segments":{"plan":1}}`, `{"segments":[]}`, `{"segments":"x"}`,
	`{"consent":{"given":"yes"}}`, `{"consent":{"Given":true}}`, `{"consent":true}`, `{"consent":null,"email":null}`,
	`{"comment":7}`, `{"comment":"a"} {}`, `{"comment":"a"`, `[1,2]`, `"x"`, `null`, `7`, ``, `{}`, `{"extra":1}`,
	`{"score":-1e3}`, `{"score":7.5}`, `{"email":"a\"b@c"}`, `{"comment":"\u202e"}`,
	`{"cutoff":"2026-11-01T00:00:00Z","action":"Delete"}`, `{"cutoff":"yesterday"}`, `{"cutoff":3}`, `{"action":"Delete","action":"Anonymize"}`,
	`{"subject":{"customerID":"C-1"},"requestID":"r-1"}`, `{"subject":{"customerID":"C-1","customerID":"C-2"}}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18}`,
	`{"segments":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17"}}`,
}

// compareDecoders decodes body into each type the collector decodes, with
// the fast path and with the slow one, and fails when they differ.
func compareDecoders(t *testing.T, body []byte) {
	t.Helper()
	for _, newV := range []func() any{
		func() any { return new(responseRequest) },
		func() any { return new(collectorapi.PurgeRequest) },
		func() any { return new(collectorapi.EraseRequest) },
	} {
		fast, slow := newV(), newV()
		errFast, errSlow := decodeStrict(body, fast), decodeStrictSlow(body, slow)
		if !reflect.DeepEqual(errFast, errSlow) {
			t.Fatalf("%T %q: fast path says %v, slow path %v", fast, body, errFast, errSlow)
		}
		if errFast == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%T %q: fast path decoded %+v, slow path %+v", fast, body, fast, slow)
		}
	}
}
