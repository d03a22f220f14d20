package profile

import (
	"regexp"

	"github.com/seed-e7a9fb3b/upshift/internal/schematool"
)

var sqlNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateSchema rejects what a reader would silently ignore: a table for a
// tool that reads its own, a column outside tool table, heads nothing can
// read.
func (p *Profile) validateSchema(c *checker) {
	s := p.Schema
	c.oneOf("schema.tool", s.Tool, SchemaTools, true)
	own := schematool.OwnTable(s.Tool)
	switch {
	case s.Table == "":
	case s.Tool == schematool.Table:
		if !sqlNameRe.MatchString(s.Table) {
			c.bad("schema.table", "%q is not a plain table name (letters, digits, _)", s.Table)
		}
	case own != "" && s.Table != own:
		c.bad("schema.table", "%s always reads %s, so table %q would be ignored; for a version in a table of the app's own use tool: table", s.Tool, own, s.Table)
	case own == "":
		c.bad("schema.table", "tool %s reads no table, so table %q would be ignored; use tool: table to read the version from it", s.Tool, s.Table)
	}
	if s.Column != "" {
		if s.Tool != schematool.Table {
			c.bad("schema.column", "only tool table reads a column of your choosing; tool %s ignores it", s.Tool)
		} else if !sqlNameRe.MatchString(s.Column) {
			c.bad("schema.column", "%q is not a plain column name (letters, digits, _)", s.Column)
		}
	}
	if len(s.Heads) > 0 && !schematool.HasHead(s.Tool) {
		c.bad("schema.heads", "tool %s records no schema head, so verify could not compare these heads with anything; remove them or name the tool that records the head (e.g. tool: table)", s.Tool)
	}
	switch {
	case s.Tool == schematool.SQLiteUser && p.DB.Engine != EngineSQLite:
		c.bad("schema.tool", "%s is read from a SQLite file, but db.engine is %s", s.Tool, p.DB.Engine)
	case p.DB.Engine == EngineSQLite && s.Tool != schematool.SQLiteUser && s.Tool != schematool.Auto && s.Tool != schematool.None && s.Tool != "":
		c.bad("schema.tool", "%s is read from PostgreSQL; a SQLite database is read with sqlite-user-version (or none)", s.Tool)
	}
	for v := range s.Heads {
		c.version("schema.heads", v, true)
	}
}

// validateApplyForm rejects apply fields the method does not read.
func (p *Profile) validateApplyForm(c *checker) {
	a := p.Apply
	c.oneOf("apply.form", a.Form, []string{FormTag, FormImage}, false)
	if a.Form != "" && a.Method != ApplyEnv {
		c.bad("apply.form", "says what apply.env_key holds, so it needs method env (method %s ignores it)", a.Method)
	}
	if a.EnvKey != "" && a.Method != ApplyEnv {
		c.bad("apply.env_key", "is read by method env only; method %s ignores it", a.Method)
	}
	if len(a.Services) > 0 && a.Method != ApplyImageTag && a.Method != ApplyAuto {
		c.bad("apply.services", "are read by methods image-tag and auto only; method %s ignores them", a.Method)
	}
	if (a.ComposeURL != "" || a.EnvURL != "") && a.Method != ApplyDownload {
		c.bad("apply.compose_url", "is read by method download only; method %s ignores it", a.Method)
	}
}
