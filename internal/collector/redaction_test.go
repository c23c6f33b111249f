package collector_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/surveyguard/surveyguard/internal/collector/collectortest"
)

// TestRedactionCountsByKind: a comment with personal data of several kinds,
// written the way people write it (lower case, dots, a no-break space,
// full-width and Devanagari digits, a zero-width space), is counted kind by
// kind in the stats.
func TestRedactionCountsByKind(t *testing.T) {
	f := collectortest.Start(t, nil)
	comment := "My name is Priya Sharma, DOB 12/03/1985. Office 022\u00a02345 6789, mobile ९८७६५ ४३२१०, " +
		"aadhaar 4991.1866.5246, pan abcpe1234f, GSTIN 27AAPFU0939F1ZV, mail ｐｒｉｙａ＠ｅｘａｍｐｌｅ．ｃｏｍ, " +
		"voter id ABC1234567, car MH 12 AB 1234, card 4111\u200b1111 1111 1111. Rated 9/10, order 4521873."
	body, err := json.Marshal(map[string]any{"score": 9, "comment": comment})
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Post(t, string(body[:len(body)-1])+","+consentOK+"}"); a.Status != http.StatusCreated {
		t.Fatalf("post: %d %s", a.Status, a.Raw)
	}
	got := map[string]float64{}
	for k, v := range f.Stats(t)["redactions"].(map[string]any) {
		got[k] = v.(float64)
	}
	want := map[string]float64{"name": 1, "dob": 1, "phone": 2, "aadhaar": 1, "pan": 1, "gstin": 1,
		"email": 1, "voterid": 1, "vehicle": 1, "card": 1}
	if !maps.Equal(got, want) {
		t.Errorf("redactions = %v, want %v", got, want)
	}
}
