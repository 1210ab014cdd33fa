package graph

import (
	"encoding/json"
	"testing"
	"time"
)

// sameAsEncodingJSON fails unless o's JSON is byte for byte what
// encoding/json writes for the equivalent map-free value.
func sameAsEncodingJSON(t *testing.T, o object) {
	t.Helper()
	got, err := json.Marshal(o) // through MarshalJSON, validated and compacted
	if err != nil {
		t.Fatalf("json.Marshal(object): %v", err)
	}
	direct, err := o.appendJSON(nil)
	if err != nil || string(direct) != string(got) {
		t.Fatalf("appendJSON = %s, %v; json.Marshal = %s", direct, err, got)
	}
	// Each value as encoding/json writes it on its own.
	want := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			want = append(want, ',')
		}
		k, _ := json.Marshal(m.name)
		v, err := json.Marshal(m.value)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", m.value, err)
		}
		want = append(append(append(want, k...), ':'), v...)
	}
	want = append(want, '}')
	if string(direct) != string(want) {
		t.Fatalf("appendJSON = %s\nencoding/json = %s", direct, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	nested := object{{"a", "x<y>&z"}, {"b", nil}, {"c", []object{{{"d", true}}}}}
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "controls \x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f",
		"<script>&amp;</script>", "line\u2028sep\u2029para", "invalid \xff\xfe utf-8 \xc3", "truncated \xe2\x82",
		"émoji 😀 and ünïcödé", "\ufffd replacement", "nul\x00end",
	} {
		sameAsEncodingJSON(t, object{{s, s}})
	}
	sameAsEncodingJSON(t, object{
		{"nil", nil}, {"true", true}, {"false", false}, {"int", -42}, {"int64", int64(1) << 60},
		{"object", nested}, {"empty object", object{}}, {"objects", []object{nested, {}}}, {"no objects", []object(nil)},
		{"empty objects", []object{}}, {"strings", []string{"a", "<b>"}}, {"no strings", []string(nil)},
		{"float", 1.5}, {"time", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, {"map", map[string]int{"z": 1, "a": 2}},
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f<>&", "\u2028\u2029", "\xff\xc3\xe2\x82", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
