package version

import (
	"fmt"
	"strings"
)

// Constraint is a conjunction of comparisons such as ">=2.0.0 <3.0.0".
// The empty constraint matches every version.
type Constraint struct {
	text  string
	terms []term
}

type term struct {
	op string
	v  Version
}

// ParseConstraint reads space- or comma-separated terms, each an operator
// (>=, >, <=, <, =, !=) followed by a version; a bare version means "=".
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{text: strings.TrimSpace(s)}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		op := ""
		for _, o := range []string{">=", "<=", "!=", ">", "<", "=="} {
			if strings.HasPrefix(f, o) {
				op, f = o, strings.TrimPrefix(f, o)
				break
			}
		}
		if op == "" && strings.HasPrefix(f, "=") {
			op, f = "=", strings.TrimPrefix(f, "=")
		}
		if op == "" {
			op = "="
		}
		if op == "==" {
			op = "="
		}
		if f == "" { // operator separated from its version by a space
			if i+1 >= len(fields) {
				return Constraint{}, fmt.Errorf("constraint %q: operator %s has no version after it", s, op)
			}
			i++
			f = fields[i]
		}
		v, err := Parse(f)
		if err != nil {
			return Constraint{}, fmt.Errorf("constraint %q: %w", s, err)
		}
		c.terms = append(c.terms, term{op: op, v: v})
	}
	return c, nil
}

// Check reports whether v satisfies every term.
func (c Constraint) Check(v Version) bool {
	for _, t := range c.terms {
		r := v.Compare(t.v)
		ok := false
		switch t.op {
		case ">=":
			ok = r >= 0
		case ">":
			ok = r > 0
		case "<=":
			ok = r <= 0
		case "<":
			ok = r < 0
		case "!=":
			ok = r != 0
		default:
			ok = r == 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// IsEmpty reports whether the constraint has no terms.
func (c Constraint) IsEmpty() bool { return len(c.terms) == 0 }

// String returns the constraint as written.
func (c Constraint) String() string { return c.text }
