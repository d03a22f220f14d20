package releases

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is what sort of thing a warning asks of the admin.
type Kind string

// Warning kinds.
const (
	// KindBreaking: behaviour or configuration changes the admin must know.
	KindBreaking Kind = "breaking"
	// KindManualAction: something to do by hand (SQL, commands, steps).
	KindManualAction Kind = "manual_action"
	// KindRequirement: a minimum version of a dependency.
	KindRequirement Kind = "requirement"
	// KindDeprecation: something deprecated or removed.
	KindDeprecation Kind = "deprecation"
)

// Rename is an env key renamed (To set) or removed (To empty).
type Rename struct {
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Version string `json:"version,omitempty"`
}

// Requirement is a minimum dependency version found in a note.
type Requirement struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Warning is one thing from a release note the admin must know before
// upgrading. Text is the original text of the note (list item, paragraph,
// plus any code block that belongs to it).
type Warning struct {
	Version  string        `json:"version"`
	Kind     Kind          `json:"kind"`
	Text     string        `json:"text"`
	Renames  []Rename      `json:"renames,omitempty"`
	Requires []Requirement `json:"requires,omitempty"`
}

// section is the class of a (pseudo-)heading.
type section int

const (
	secNone section = iota
	secNeutral
	secBreaking
	secImportant
	secUpgrade
	secDeprecation
	secRequirement
)

func (s section) flagged() bool { return s >= secBreaking }

var (
	neutralHeadRe     = regexp.MustCompile(`(?i)^(new )?features?$|^(bug ?)?fix(es|ed)?$|^critical fixes$|^improvements?$|^enhancements?$|^changes$|^changed$|^added$|^security$|^performance$|^chores?$|^docs$|^documentation$|^what'?s changed$|^other changes$|^dependenc|^uncategori[sz]ed$|^thanks|^contributors|^new contributors|^highlights$|^新增|^修复|^优化|功能|^改进|^其他|^更新内容$|^full changelog`)
	breakingHeadRe    = regexp.MustCompile(`(?i)breaking|incompatib|不兼容|破坏性`)
	deprecationHeadRe = regexp.MustCompile(`(?i)deprecat|^removed?$|^removals?$|removed features|弃用|废弃|移除`)
	requirementHeadRe = regexp.MustCompile(`(?i)requirements?$|prerequisites?|系统要求|环境要求|依赖要求`)
	impactHeadRe      = regexp.MustCompile(`(?i)upgrade impact`)
	upgradeHeadRe     = regexp.MustCompile(`(?i)upgrad|migrat|action(s)? (is )?required|actions? needed|before you|how to|manual steps|升级|迁移|必读`)
	importantHeadRe   = regexp.MustCompile(`(?i)important|attention|warning|caution|danger|注意|警告|重要`)
)

// classifyHeading returns the class of a heading; secNone means "inherit".
func classifyHeading(text string) section {
	t := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '\'' || r == '.' || r == '-' {
			return r
		}
		return ' '
	}, text))
	t = strings.Join(strings.Fields(t), " ")
	switch {
	case t == "":
		return secNone
	case breakingHeadRe.MatchString(t):
		return secBreaking
	case neutralHeadRe.MatchString(t):
		return secNeutral
	case impactHeadRe.MatchString(t):
		return secImportant
	case deprecationHeadRe.MatchString(t):
		return secDeprecation
	case requirementHeadRe.MatchString(t):
		return secRequirement
	case upgradeHeadRe.MatchString(t):
		return secUpgrade
	case importantHeadRe.MatchString(t):
		return secImportant
	}
	return secNone
}

// block is a list item or paragraph, with any code that belongs to it.
type block struct {
	sec     section
	lines   []string
	code    []string
	lang    string
	leadIn  bool // a short "how to upgrade:" line that opened a pseudo-section
	ordered bool // a numbered list item (a step)
}

var (
	listItemRe  = regexp.MustCompile(`^(\s*)([-*+]|\d{1,3}[.)、])\s+(.*)$`)
	boldLineRe  = regexp.MustCompile(`^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*[:：]?\s*$`)
	alertRe     = regexp.MustCompile(`(?i)^\[!(warning|important|caution|note|tip)\]`)
	admonOpenRe = regexp.MustCompile(`(?i)^\{(attention|important|warning|caution|danger|note|tip|hint|seealso)\}`)
	mdxOpenRe   = regexp.MustCompile(`(?i)^\s*<(warning|caution|danger|important|note|tip|info)>\s*$`)
	mdxCloseRe  = regexp.MustCompile(`(?i)^\s*</(warning|caution|danger|important|note|tip|info)>\s*$`)
)

func admonitionSection(kind string) section {
	switch strings.ToLower(kind) {
	case "attention", "important", "warning", "caution", "danger":
		return secImportant
	}
	return secNone
}

// segmenter splits Markdown into blocks that know their section.
type segmenter struct {
	out []*block
}

type headFrame struct {
	level int
	sec   section
}

// segment processes lines under base (the section of the enclosing block).
func (sg *segmenter) segment(lines []string, base section) {
	var heads []headFrame
	var cur, last *block
	pseudo, pseudoIndent, pseudoList, pseudoQuote := secNone, 0, false, false
	inQuote := false
	effective := func() section {
		if pseudo != secNone {
			return pseudo
		}
		for i := len(heads) - 1; i >= 0; i-- {
			if heads[i].sec != secNone {
				return heads[i].sec
			}
		}
		return base
	}
	flush := func() {
		if cur != nil {
			sg.out = append(sg.out, cur)
			last = cur
			cur = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		line := raw
		// Block quotes: strip the markers, remember we are inside one.
		trimmed := strings.TrimLeft(line, " ")
		if strings.HasPrefix(trimmed, ">") {
			line = strings.TrimPrefix(strings.TrimPrefix(trimmed, ">"), " ")
			inQuote = true
		} else if inQuote {
			inQuote = false
			if pseudoQuote {
				flush()
				pseudo, pseudoQuote = secNone, false
			}
		}
		// Fenced code and MyST admonitions.
		if m := fenceRe.FindStringSubmatch(line); m != nil {
			marker := m[1]
			info := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "`~"))
			var content []string
			j := i + 1
			for ; j < len(lines); j++ {
				l := lines[j]
				if inQuote {
					l = strings.TrimPrefix(strings.TrimPrefix(strings.TrimLeft(l, " "), ">"), " ")
				}
				if strings.HasPrefix(strings.TrimSpace(l), marker) && strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), marker[:1])) == "" {
					break
				}
				content = append(content, l)
			}
			i = j
			if am := admonOpenRe.FindStringSubmatch(info); am != nil {
				flush()
				inner := effective()
				if s := admonitionSection(am[1]); s != secNone {
					inner = s
				}
				sg.segment(content, inner)
				last = nil
				continue
			}
			target := cur
			if target == nil {
				target = last
			}
			if target == nil || len(target.code) > 0 || target.sec != effective() {
				target = &block{sec: effective()}
				sg.out = append(sg.out, target)
			}
			target.code = append(target.code, content...)
			target.lang = strings.ToLower(strings.Fields(info + " x")[0])
			if cur == nil {
				last = target
			}
			continue
		}
		if m := atxHeadingRe.FindStringSubmatch(line); m != nil && !inQuote {
			flush()
			last = nil
			level := len(m[1])
			for len(heads) > 0 && heads[len(heads)-1].level >= level {
				heads = heads[:len(heads)-1]
			}
			heads = append(heads, headFrame{level: level, sec: classifyHeading(m[2])})
			pseudo, pseudoList, pseudoQuote = secNone, false, false
			continue
		}
		if mdxOpenRe.MatchString(line) {
			flush()
			if s := admonitionSection(mdxOpenRe.FindStringSubmatch(line)[1]); s != secNone {
				pseudo, pseudoList, pseudoQuote = s, false, false
			}
			continue
		}
		if mdxCloseRe.MatchString(line) {
			flush()
			pseudo = secNone
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if am := alertRe.FindStringSubmatch(strings.TrimSpace(line)); am != nil && inQuote {
			flush()
			if s := admonitionSection(am[1]); s != secNone {
				pseudo, pseudoList, pseudoQuote = s, false, true
			}
			rest := strings.TrimSpace(alertRe.ReplaceAllString(strings.TrimSpace(line), ""))
			if rest == "" {
				continue
			}
			line = rest
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		if lm := listItemRe.FindStringSubmatch(line); lm != nil {
			flush()
			if pseudoList && indent <= pseudoIndent {
				pseudo, pseudoList = secNone, false
			}
			text := lm[3]
			cur = &block{sec: effective(), lines: []string{text}, ordered: !strings.ContainsAny(lm[2], "-*+")}
			if s := leadInSection(text); s != secNone {
				cur.leadIn = true
				pseudo, pseudoIndent, pseudoList, pseudoQuote = s, indent, true, false
			}
			continue
		}
		if cur == nil {
			if pseudoList && indent <= pseudoIndent {
				pseudo, pseudoList = secNone, false
			}
			if bm := boldLineRe.FindStringSubmatch(line); bm != nil && isPseudoHeading(bm[1]) {
				s := classifyHeading(bm[1])
				if s != secNone {
					pseudo, pseudoList, pseudoQuote = s, false, inQuote
					continue
				}
			}
			cur = &block{sec: effective()}
			if s := leadInSection(strings.TrimSpace(line)); s != secNone {
				cur.leadIn = true
				cur.lines = append(cur.lines, strings.TrimSpace(line))
				pseudo, pseudoList = s, false
				cur.sec = s
				continue
			}
		}
		cur.lines = append(cur.lines, strings.TrimSpace(line))
	}
	flush()
}

// isPseudoHeading: a short bold line without sentence punctuation acts as a
// heading ("**Breaking Changes**"); a bold sentence is a paragraph.
func isPseudoHeading(s string) bool {
	return utf8.RuneCountInString(s) <= 40 && !strings.ContainsAny(s, ",，。:：.!！")
}

// leadInSection classifies a short line ending with a colon ("how to
// upgrade:"); secNone when it is not one.
func leadInSection(text string) section {
	t := strings.TrimSpace(strings.Trim(strings.TrimSpace(text), "*_"))
	if !strings.HasSuffix(t, ":") && !strings.HasSuffix(t, "：") {
		return secNone
	}
	if utf8.RuneCountInString(t) > 60 {
		return secNone
	}
	s := classifyHeading(strings.TrimRight(t, ":："))
	if s == secNeutral {
		return secNone
	}
	return s
}

var (
	envKey    = "`?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][A-Z0-9]{2,})`?"
	renameRes = []*regexp.Regexp{
		regexp.MustCompile(envKey + `\s+(?:has\s+been|have\s+been|was|is|are|were|got)\s+(?:now\s+)?renamed\s+(?:to|as|into)\s+` + envKey),
		regexp.MustCompile(`(?i:renam(?:e|ed|ing))\s+(?:the\s+)?(?:(?i:env(?:ironment)?\s+(?:variable|key))\s+)?` + envKey + `\s+(?:to|as|into|→|->|=>)\s+` + envKey),
		regexp.MustCompile(envKey + `\s*(?:→|->|=>|⇒)\s*` + envKey),
		regexp.MustCompile(envKey + `\s*(?:已)?(?:被)?(?:重命名为|更名为|改名为|重命名成|改为)\s*` + envKey),
		regexp.MustCompile(envKey + `\s+(?:has\s+been|was|is)\s+replaced\s+(?:by|with)\s+` + envKey),
	}
	removedKeyRes = []*regexp.Regexp{
		regexp.MustCompile(envKey + `\s+(?:(?i:env(?:ironment)?\s+(?:variable|key)|setting)\s+)?(?:has\s+been|have\s+been|was|is|were)\s+(?:removed|dropped)`),
		regexp.MustCompile(envKey + `\s*(?:已被?|已经)?(?:移除|删除)`),
	}
	depNames = `(PostgreSQL|Postgres|PG|MySQL|MariaDB|Redis|Weaviate|Docker Compose|Docker Engine|Docker|Compose|Python|Node\.js|Node|Go|Elasticsearch|OpenSearch|SQLite|Kubernetes|Qdrant|Milvus|Java|glibc|Debian|Ubuntu)`
	depVer   = `\s*(?:(?:server\s+)?(?i:version)\s*)?(?:(?:is|must be|should be)\s+)?(?:now\s+)?(?:of\s+|>=\s*|≥\s*|版本\s*)?v?(\d+(?:\.\d+)*)`
	reqRes   = []*regexp.Regexp{
		regexp.MustCompile(`(?i:requires?|required|needs?|minimum|at least|upgrade to|最低|至少|要求|需要|升级到)[^.\n。;；]{0,40}?\b` + depNames + depVer),
		regexp.MustCompile(`\b` + depNames + depVer + `\s*(?:\+|(?i:or (?:newer|later|higher|above))|及以上|以上|或更高)`),
		regexp.MustCompile(`\b` + depNames + `\s*(?:版本|version)?\s*(?:需要|要求|必须)?\s*(?:最低|至少|不低于)\s*(?:为|是)?\s*v?(\d+(?:\.\d+)*)`),
	}
	markerRes = []*regexp.Regexp{
		regexp.MustCompile(`⚠`),
		regexp.MustCompile(`\bBREAKING\b|(?i:breaking[ -]changes?)`),
		regexp.MustCompile(`(?:^|\s)!!+(?:\s|$)|!!!`),
		regexp.MustCompile(`(?i)very important|^\W*(?:important|attention|warning|caution)\s*[:：!]|\*\*(?:important|attention|warning|caution)\b`),
		regexp.MustCompile(`注意[^力事]|注意$|警告|不兼容|破坏性|升级前|务必|必须|需要(?:重新|手动|手工|先|执行|迁移|修改|删除)|请先|请手动|手工|无法直接升级|不支持直接升级`),
	}
	deprecationRe = regexp.MustCompile(`(?i)\b(?:is|are|has been|have been|will be|now)\s+deprecated\b|\bdeprecated\s+(?:in favou?r|and will)|will be removed|no longer (?:be )?supported|support for .{1,40}(?:has|have|is) (?:ended|been removed|been dropped|removed)|弃用|废弃|不再支持`)
	manualRe      = regexp.MustCompile(`(?i)\b(?:run|execute|by hand|manually|back ?up|make sure|plan a maintenance|you (?:must|need to|have to|should)|before (?:upgrading|starting|moving|you upgrade))\b|\bupgrade to \S+ first|手动|手工|执行|需要重新|请先|备份`)
	sqlLineRe     = regexp.MustCompile(`(?i)^\s*(?:alter\s+table|create\s+(?:unique\s+)?(?:table|index)|drop\s+(?:table|index|column)|update\s+\S+\s+set|insert\s+into|delete\s+from)\b.*;\s*$`)
)

func findRenames(text, ver string) []Rename {
	var out []Rename
	add := func(from, to string) {
		if from == to || slices.ContainsFunc(out, func(r Rename) bool { return r.From == from }) {
			return
		}
		out = append(out, Rename{From: from, To: to, Version: ver})
	}
	for _, re := range renameRes {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			add(m[1], m[2])
		}
	}
	for _, re := range removedKeyRes {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if strings.Contains(m[1], "_") {
				add(m[1], "")
			}
		}
	}
	return out
}

func findRequirements(text string) []Requirement {
	var out []Requirement
	for _, re := range reqRes {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			r := Requirement{Name: canonicalDep(m[1]), Version: m[2]}
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func canonicalDep(s string) string {
	switch strings.ToLower(s) {
	case "postgres", "pg", "postgresql":
		return "PostgreSQL"
	}
	return s
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// Extract returns what the admin must know from one note. Kinds, in order
// of precedence: env renames make a breaking warning; a minimum dependency
// version a requirement; deprecation wording or a deprecation section a
// deprecation; raw SQL, or (in an upgrade section or marked text) code,
// "run/execute/by hand/make sure" wording or a numbered step a manual
// action; anything else flagged (breaking or upgrade section, ⚠️,
// BREAKING, !!, 注意, ...) breaking. Plain features and fixes are not
// flagged.
func Extract(n Note) []Warning {
	sg := &segmenter{}
	sg.segment(strings.Split(strings.ReplaceAll(n.Body, "\r\n", "\n"), "\n"), secNone)
	var out []Warning
	for _, b := range sg.out {
		w, ok := classifyBlock(b, n.Version)
		if !ok {
			continue
		}
		if slices.ContainsFunc(out, func(x Warning) bool { return x.Text == w.Text }) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// ExtractAll extracts the warnings of every note, in note order.
func ExtractAll(notes []Note) []Warning {
	var out []Warning
	for _, n := range notes {
		out = append(out, Extract(n)...)
	}
	return out
}

func classifyBlock(b *block, ver string) (Warning, bool) {
	text := strings.TrimSpace(strings.Join(b.lines, "\n"))
	code := strings.TrimSpace(strings.Join(b.code, "\n"))
	if b.leadIn && code == "" {
		return Warning{}, false
	}
	if !hasLetters(text) && code == "" {
		return Warning{}, false
	}
	full := text
	if code != "" {
		fence := "```" + b.lang
		if b.lang == "x" || b.lang == "" {
			fence = "```"
		}
		full = strings.TrimSpace(text + "\n" + fence + "\n" + code + "\n```")
	}
	plain := stripInlineMarkup(text)
	renames := findRenames(plain, ver)
	reqs := findRequirements(plain)
	marker := anyMatch(markerRes, text)
	depr := deprecationRe.MatchString(plain)
	sqlLines := false
	for _, l := range b.lines {
		if sqlLineRe.MatchString(l) {
			sqlLines = true
		}
	}
	shellOrSQL := code != "" && (isCommandLang(b.lang) || sqlLineRe.MatchString(firstLine(code)))
	flagged := b.sec.flagged() || marker
	if !flagged && len(renames) == 0 && len(reqs) == 0 && !depr && !sqlLines {
		return Warning{}, false
	}
	w := Warning{Version: ver, Text: full, Renames: renames, Requires: reqs}
	manual := sqlLines || (flagged && (shellOrSQL || manualRe.MatchString(plain)))
	switch {
	case len(renames) > 0 && b.sec != secDeprecation:
		w.Kind = KindBreaking
	case len(reqs) > 0:
		w.Kind = KindRequirement
	case depr || b.sec == secDeprecation:
		w.Kind = KindDeprecation
	case manual || b.sec == secUpgrade && b.ordered:
		w.Kind = KindManualAction
	default:
		w.Kind = KindBreaking
	}
	return w, true
}

func isCommandLang(lang string) bool {
	switch lang {
	case "sql", "psql", "sh", "bash", "shell", "console", "zsh", "x", "":
		return true
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func hasLetters(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

var inlineMarkupRe = regexp.MustCompile("\\*\\*|__|`")

func stripInlineMarkup(s string) string {
	return strings.Join(strings.Fields(inlineMarkupRe.ReplaceAllString(s, "")), " ")
}
