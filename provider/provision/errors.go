package provision

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every problem Parse and Apply find in
// a document, as opposed to errors of the store.
var ErrInvalid = errors.New("invalid provisioning document")

// problem is one thing wrong with a document, at a YAML path.
type problem struct {
	source string
	line   int    // 0 when unknown
	path   string // "" for the document itself
	msg    string
}

// Error reads "source:line: path: msg", leaving out what is unknown.
func (p *problem) Error() string {
	s := p.source
	switch {
	case s == "" && p.line > 0:
		s = fmt.Sprintf("line %d", p.line)
	case s == "":
		s = "provisioning document"
	case p.line > 0:
		s += fmt.Sprintf(":%d", p.line)
	}
	if p.path != "" {
		s += ": " + p.path
	}
	return s + ": " + p.msg
}

func (p *problem) Unwrap() error { return ErrInvalid }

// problems collects every problem of a document so that they are reported
// together.
type problems struct {
	source string
	list   []error
}

func (ps *problems) add(path, format string, args ...any) {
	ps.addLine(0, path, format, args...)
}

func (ps *problems) addLine(line int, path, format string, args ...any) {
	ps.list = append(ps.list, &problem{source: ps.source, line: line, path: path, msg: fmt.Sprintf(format, args...)})
}

// err returns the problems joined, or nil.
func (ps *problems) err() error { return errors.Join(ps.list...) }

func invalidf(source string, line int, path, format string, args ...any) error {
	return &problem{source: source, line: line, path: path, msg: fmt.Sprintf(format, args...)}
}
