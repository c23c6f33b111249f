package monitoring

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The PromQL words that are not metric names: keywords, and the aggregation
// operators, which may be followed by a grouping instead of a parenthesis.
var (
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"inf": true, "nan": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "start": true, "end": true,
	}
	promqlAggregations = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
		"limitk": true, "limit_ratio": true,
	}
	// promqlGroupings are followed by a parenthesised list of label names.
	promqlGroupings = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
)

// metricNames returns the metric names a PromQL expression selects, in
// order of appearance, without repeats. It expects a valid expression
// (promtool checks that first): it is a tokeniser that tells a metric name
// from a function, an aggregation, a keyword, a label name in a matcher or
// a grouping, a string, a number or a duration. A selector without a
// metric name, or one that picks it by regular expression, is an error:
// what it selects cannot be checked.
func metricNames(expr string) ([]string, error) {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	s := expr
	i := 0
	skipSpace := func(j int) int {
		for j < len(s) {
			switch s[j] {
			case ' ', '\t', '\n', '\r':
				j++
			case '#':
				for j < len(s) && s[j] != '\n' {
					j++
				}
			default:
				return j
			}
		}
		return j
	}
	// lastName is the metric name just before a '{', if any.
	lastName := ""
	for {
		i = skipSpace(i)
		if i >= len(s) {
			return names, nil
		}
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := stringEnd(s, i)
			if err != nil {
				return nil, err
			}
			i = end
			lastName = ""
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			i = numberEnd(s, i)
			lastName = ""
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			i = j
			lower := strings.ToLower(word)
			switch {
			case promqlGroupings[lower]:
				if next < len(s) && s[next] == '(' {
					end := strings.IndexByte(s[next:], ')')
					if end < 0 {
						return nil, fmt.Errorf("%q: unclosed label list after %s", expr, word)
					}
					i = next + end + 1
				}
				lastName = ""
			case promqlKeywords[lower]:
				lastName = ""
			case next < len(s) && s[next] == '(':
				// A function call.
				lastName = ""
			case promqlAggregations[lower] && next < len(s) && isIdentStart(s[next]):
				// sum by (...) (...), sum without (...) (...).
				lastName = ""
			default:
				add(word)
				lastName = word
			}
		case c == '{':
			end, named, err := matchers(s, i)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", expr, err)
			}
			switch {
			case named != "" && lastName != "":
				return nil, fmt.Errorf("%q: %s{...} names its metric twice", expr, lastName)
			case named != "":
				add(named)
			case lastName == "":
				return nil, fmt.Errorf("%q: a selector without a metric name at offset %d", expr, i)
			}
			i = end
			lastName = ""
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed range at offset %d", expr, i)
			}
			i += end + 1
			lastName = ""
		default:
			i++
			lastName = ""
		}
	}
}

// matchers reads the label matchers starting at s[i] == '{' and returns
// the offset after the closing brace and the metric name they set, if any
// (__name__="x", or a bare quoted name as PromQL 3 allows).
func matchers(s string, i int) (end int, name string, err error) {
	i++
	expectLabel := true
	label := ""
	op := ""
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			if c == ',' {
				expectLabel, label, op = true, "", ""
			}
			i++
		case c == '}':
			return i + 1, name, nil
		case c == '"' || c == '\'' || c == '`':
			e, err := stringEnd(s, i)
			if err != nil {
				return 0, "", err
			}
			value := unquote(s[i:e])
			switch {
			case expectLabel:
				// A quoted label name, or a bare quoted metric name.
				label = value
				if next := skipBlanks(s, e); next < len(s) && (s[next] == ',' || s[next] == '}') {
					name = value
				}
				expectLabel = false
			case label == "__name__" && op == "=":
				name = value
			case label == "__name__":
				return 0, "", fmt.Errorf("__name__%s%s: a metric chosen by a regular expression or a negation cannot be checked", op, s[i:e])
			}
			i = e
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			label, expectLabel = s[i:j], false
			i = j
		case c == '=' || c == '!' || c == '~':
			op += string(c)
			i++
		default:
			return 0, "", fmt.Errorf("unexpected %q in label matchers", c)
		}
	}
	return 0, "", fmt.Errorf("unclosed label matchers")
}

// stringEnd returns the offset after the PromQL string literal at s[i].
func stringEnd(s string, i int) (int, error) {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d", i)
}

// unquote returns a string literal's content (escapes kept: names have none).
func unquote(lit string) string { return lit[1 : len(lit)-1] }

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// numberEnd returns the offset after the number or duration at s[i]:
// 42, 1.5e-3, 0x1f, 5m, 1h30m.
func numberEnd(s string, i int) int {
	j := i
	for j < len(s) {
		c := s[j]
		switch {
		case isIdentChar(c) || c == '.':
			j++
		case (c == '+' || c == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(s[i:], "0x"):
			j++
		default:
			return j
		}
	}
	return j
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`max by (namespace, campaign) (surveyguard_retention_overdue) == 1`, []string{"surveyguard_retention_overdue"}},
		{`sum without(pod)(rate(a_total{job="x", code=~"5.."}[5m] offset 1h)) / ignoring(code) group_left(le) b_bucket`,
			[]string{"a_total", "b_bucket"}},
		{`(max by (namespace, campaign) (x) == 0) unless on (namespace, campaign) (max(y) == 1)`, []string{"x", "y"}},
		{`a > on (namespace) b + 3600`, []string{"a", "b"}},
		{`histogram_quantile(0.9, sum by (le) (rate(commit_seconds_bucket[1h:5m])))`, []string{"commit_seconds_bucket"}},
		{`{__name__="by_name", job!="x"} * 1e-3 + 0x1F - .5`, []string{"by_name"}},
		{`{"utf8.metric", env="prod"}`, []string{"utf8.metric"}},
		{`label_replace(m, "dst", "$1", "src", "(sum|rate) up")`, []string{"m"}},
		{`time() - max(ts) # a comment naming not_a_metric`, []string{"ts"}},
		{`count(a) or vector(0)`, []string{"a"}},
		{`topk(3, a) > bool b @ start()`, []string{"a", "b"}},
		{`sum(a) by (x)`, []string{"a"}},
		{`a offset -5m`, []string{"a"}},
		{`a + a`, []string{"a"}},
	} {
		got, err := metricNames(tc.expr)
		if err != nil {
			t.Errorf("metricNames(%q): %v", tc.expr, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{`{job="x"}`, `{__name__=~"surveyguard_.*"}`, `a{b="c"`, `a{__name__="b"}`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q, want an error", bad, got)
		}
	}
}
