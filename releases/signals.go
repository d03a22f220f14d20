package releases

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	envKey    = "`?([A-Z][A-Z0-9]*(?:(?:_[A-Z0-9]+)+(?:_\\*)?|_\\*)|[A-Z][A-Z0-9]{2,})`?"
	renameRes = []*regexp.Regexp{
		regexp.MustCompile(envKey + `\s+(?:(?i:setting|option|variable|env(?:ironment)? variable|key|parameter|flag)\s+)?(?:has\s+been|have\s+been|was|is|are|were|got)\s+(?:now\s+)?renamed\s+(?:to|as|into)\s+` + envKey),
		regexp.MustCompile(`(?i:renam(?:e|ed|ing))\s+(?:the\s+)?(?:(?i:env(?:ironment)?\s+(?:variable|key))\s+)?` + envKey + `\s+(?:(?i:options?|settings?|variables?|keys?)\s+)?(?:to|as|into|→|->|=>)\s+` + envKey),
		regexp.MustCompile(envKey + `\s*(?:→|->|=>|⇒)\s*` + envKey),
		regexp.MustCompile(envKey + `\s*(?:已)?(?:被)?(?:重命名为|更名为|改名为|重命名成|改为)\s*` + envKey),
		regexp.MustCompile(envKey + `\s+(?:has\s+been|was|is)\s+replaced\s+(?:by|with)\s+` + envKey),
	}
	removedKeyRes = []*regexp.Regexp{
		regexp.MustCompile(envKey + `\s+(?:(?i:env(?:ironment)?\s+(?:variable|key)|setting)\s+)?(?:has\s+been|have\s+been|was|is|were)\s+(?:removed|dropped)`),
		regexp.MustCompile(envKey + `\s*(?:已被?|已经)?(?:移除|删除)`),
		// Imperative: "remove SENDER, SENDER_DIR from your config".
		regexp.MustCompile(`(?:^|[.;:]\s+)(?i:remove|delete|drop|unset)\s+(?:the\s+)?` + envKey + `(?:\s*(?:,|and)\s*` + envKey + `)?`),
	}
	depNames = `(PostgreSQL|Postgres|PG|MySQL|MariaDB|Redis|Valkey|Weaviate|Docker Compose|docker compose|docker-compose|Docker Engine|Docker|Compose|Python|Node\.js|NodeJS|Node|Go|Golang|PHP|Git|Ruby|Rust|Java|JDK|Erlang|Elixir|Elasticsearch|OpenSearch|SQLite|Kubernetes|Helm|Qdrant|Milvus|MongoDB|Mongo|ClickHouse|RabbitMQ|Kafka|Meilisearch|Typesense|MinIO|Nginx|Traefik|Caddy|OpenSSL|glibc|Debian|Ubuntu|Alpine|ImageMagick|FFmpeg|libvips|npm|pnpm|Yarn|Bun|Deno|\.NET|Memcached|InfluxDB|Prometheus|Grafana|VictoriaMetrics|Nextcloud|Keycloak)`
	depVer   = `\s*(?:(?:server\s+)?(?i:version|v)\s*)?(?:(?:is|must be|should be)\s+)?(?:now\s+)?(?:of\s+|to\s+|>=\s*|≥\s*|版本\s*)?v?(\d+(?:\.\d+)*)`
	reqRes   = []*regexp.Regexp{
		regexp.MustCompile(`(?i:requires?|required|needs?|minimum|\bmin\b\.?|at least|must (?:use|run|have)|upgrade to|drop(?:s|ped)? support for|最低|至少|要求|需要|升级到)[^.\n。;；]{0,40}?\b` + depNames + depVer),
		regexp.MustCompile(`\b` + depNames + depVer + `\s*(?:\+|(?i:or (?:newer|later|higher|above|greater)|and (?:later|newer|above|up)|(?:is|are) (?:now )?(?:required|needed|the minimum))|及以上|以上|或更高)`),
		regexp.MustCompile(`\b` + depNames + `\s*(?:版本|version)?\s*(?:需要|要求|必须)?\s*(?:最低|至少|不低于)\s*(?:为|是)?\s*v?(\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i:drop(?:s|ped|ping)?|remove[sd]?|end(?:s|ed)?)\s+(?:(?i:support\s+for)\s+)?` + depNames + `\s+(?i:versions?\s+)?(?i:prior to|before|older than|earlier than|below|<)\s*v?(\d+(?:\.\d+)*)`),
		regexp.MustCompile(`\b` + depNames + `\s+(?i:versions?\s+)?(?i:prior to|before|older than|earlier than|below|<)\s*v?(\d+(?:\.\d+)*)\s+(?i:(?:is|are)\s+no\s+longer\s+supported|(?:is|are|was|were)\s+dropped)`),
		regexp.MustCompile(`(?i)\bminimum (?:supported |required )?` + depNames + `\s+version\s+(?:has\s+been\s+|was\s+|is\s+)?(?:increased|raised|bumped|changed)\s+(?:from\s+\S+\s+)?to\s+v?(\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i)\bminimum (?:supported |required )?` + depNames + `\s+version\s+(?:is\s+)?(?:now\s+)?v?(\d+(?:\.\d+)*)`),
	}
	markerRes = []*regexp.Regexp{
		regexp.MustCompile(`⚠|🚨|❗|‼`),
		regexp.MustCompile(`\bBREAKING\b|(?i:breaking[ -]changes?)|(?i:\bbreaking\b:)|(?i:backwards?[- ]incompatible|not backwards?[- ]compatible|incompatible change|\bbehaviou?r change\b)`),
		regexp.MustCompile(`(?:^|\s)!!+(?:\s|$)|!!!`),
		regexp.MustCompile(`(?i)very important|^\W*(?:important|attention|warning|caution|heads[- ]up)\s*[:：!]|\*\*(?:important|attention|warning|caution)\b`),
		regexp.MustCompile(`注意[^力事]|注意$|警告|不兼容|破坏性|升级前|务必|必须|需要(?:重新|手动|手工|先|执行|迁移|修改|删除)|请先|请手动|手工|无法直接升级|不支持直接升级`),
		// Conventional Commits: "feat(api)!: drop v1".
		regexp.MustCompile(`^\W{0,3}[a-z]+(?:\([^)]*\))?!:`),
	}
	// removalRe: a generated list item that removes config or support.
	removalRe     = regexp.MustCompile(`(?i)\b(?:remove[sd]?|removing|drop(?:s|ped)?)\b[^.\n]{0,60}?\b(?:deprecated\s+(?:\S+\s+)?(?:config|option|setting|env|variable|parameter|endpoint|command|flag|api|field|attribute)|config(?:uration)?\s+(?:like|such as|options?|keys?|settings?|parameters?|files?|variables?|values?)\b|(?:config(?:uration)?|env(?:ironment)?) var|settings?\b|support for\b|endpoints?\b|integration\b|(?:management |cli )?commands?\b)`)
	deprecationRe = regexp.MustCompile(`(?i)\b(?:is|are|has been|have been|will be|now|tentatively|marked(?: as)?|as)\s+deprecated\b|^\W{0,3}deprecat(?:es?|ed|ing)\b|\bdeprecated\s+(?:in favou?r|and will)|will be removed|no longer (?:be )?supported|support for .{1,40}(?:has|have|is) (?:ended|been removed|been dropped|removed)|弃用|废弃|不再支持`)
	manualRe      = regexp.MustCompile(`(?i)\b(?:run|execute|by hand|manually|back ?up|make sure|plan a maintenance|you (?:must|need to|have to|should|will need)|before (?:upgrading|starting|moving|you upgrade))\b|\bupgrade to \S+ first|手动|手工|执行|需要重新|请先|备份`)
	sqlLineRe     = regexp.MustCompile(`(?i)^\s*(?:alter\s+table|create\s+(?:unique\s+)?(?:table|index)|drop\s+(?:table|index|column)|update\s+\S+\s+set|insert\s+into|delete\s+from)\b.*;\s*$`)
	// negationRe: wording that takes the alarm back.
	negationRe = regexp.MustCompile(`(?i)^(?:fix(?:ed|es)?|bugfix|hotfix)\b[^.]*\bbreak(?:s|ing)\b|\bno\b[^.]{0,30}\b(?:is|are|will be|gets?) (?:lost|deleted|removed)\b|\bno (?:known )?(?:breaking|incompatible) changes?\b|\bnon-?breaking\b|\bnot (?:a )?breaking\b|\brevert(?:s|ed|ing)? (?:a |the |an )?(?:\S+ )?breaking|\bno (?:manual )?(?:action|migration|steps?|changes?) (?:is |are )?(?:required|needed)|\bnothing to do\b|\bno need to\b|无需(?:任何)?(?:操作|迁移|修改)|不需要(?:任何)?(?:操作|迁移|修改)|无破坏性`)
	// nagRe: a security release asking everyone to upgrade soon; nothing
	// to do during the upgrade.
	nagRe = regexp.MustCompile(`(?i)(?:encouraged|recommended|advised|urged) to (?:upgrade|update)|(?:upgrade|update) (?:to the latest version )?(?:as soon as possible|immediately|asap)|upgrading is (?:highly |strongly )?recommended|resolves a security vulnerability|security (?:fix|release|advisory)`)
	// removedParamRe: "Remove twofactor_auth parameter".
	removedParamRe = regexp.MustCompile("(?i)\\b(?:remove[sd]?|drop(?:s|ped)?|delete[sd]?)\\s+(?:the\\s+)?`?[a-z][a-z0-9]*(?:_[a-z0-9]+)+`?\\s+(?:parameter|option|setting|config|key|variable|flag)s?\\b")
	// uiRe: a removal from the user interface, not from the config.
	uiRe = regexp.MustCompile(`(?i)\b(?:page|screen|dialog|menu|button|view|ui|tab|sidebar|modal|form)\b`)
	// audienceRe: text for developers of plugins or the API, not admins.
	audienceRe = regexp.MustCompile(`(?i)\bfor (?:plugin|integration|app|theme|sdk|extension)? ?(?:developers|authors|devs)\b|\bplugin developers\b|\bdeprecated (?:internal|private) (?:api|function|method|class)|\binternal (?:api|function|method|class)|\b(?:plugin|js|python|go) sdk\b|开发者`)
	// stopRes find required stops; group 1 is the version to install.
	stopRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\bupgrade to (?:version |release )?v?(\d+\.\d+(?:\.\d+)*)(?: or later| or newer)?,? first\b`),
		regexp.MustCompile(`(?i)\bfirst,? (?:upgrade|update|migrate) to (?:version |release |the latest )?v?(\d+\.\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i)\bmust (?:first )?(?:be (?:on|running|at)|upgrade to|update to|install|run) (?:version |release )?v?(\d+\.\d+(?:\.\d+)*)(?:\.x)?(?: or (?:later|newer|above))? (?:before|first|prior)`),
		regexp.MustCompile(`(?i)\b(?:need|have) to (?:first )?(?:upgrade|update) to (?:version |release )?v?(\d+\.\d+(?:\.\d+)*)(?:\.x)? (?:before|first|prior)`),
		regexp.MustCompile(`(?i)\bv?(\d+\.\d+(?:\.\d+)*) is a (?:required|mandatory) (?:upgrade )?stop`),
		regexp.MustCompile(`(?i)\brequired (?:upgrade )?stop(?: at| is)? v?(\d+\.\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i)\bvia (?:version )?v?(\d+\.\d+(?:\.\d+)*) first\b|\bgo through (?:version )?v?(\d+\.\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i)\b(?:make sure|be sure|ensure) (?:to|that you) (?:first )?(?:upgrade|update) to (?:version |release )?v?(\d+\.\d+(?:\.\d+)*)`),
		regexp.MustCompile(`(?i)\bv?(\d+\.\d+(?:\.\d+)*),? (?:which is |is )?the (?:latest|last) (?:version|release) before\b`),
		regexp.MustCompile(`先(?:升级|更新)(?:到|至)\s*v?(\d+\.\d+(?:\.\d+)*)`),
	}
	// forbiddenRe: a path the note forbids, without naming the stop.
	forbiddenRe = regexp.MustCompile(`(?i)\b(?:cannot|can't|can ?not|unable to|not possible to) (?:be )?(?:upgrade|update|migrate)d? (?:directly )?from\b|\b(?:direct )?(?:upgrad|updat)(?:e|es|ing) (?:directly )?from (?:version )?v?\S+ (?:\S+ ){0,4}(?:directly )?(?:is|are) not supported|\bskipping (?:major )?(?:versions?|releases?) is not supported|\bdirect upgrades? (?:from \S+ )?(?:to \S+ )?(?:is|are) not (?:supported|possible)|\b(?:should|must) not (?:upgrade|update) (?:directly )?(?:from|to)\b|\bdo not (?:upgrade|update) (?:directly )?(?:from|to)\b|\bavoid upgrading (?:to|from)\b|\b(?:please )?(?:use|upgrade to) (?:release |version )?v?\d+\.\d+(?:\.\d+)* instead\b|无法直接升级|不支持(?:从\S{0,12})?直接升级|不支持跨版本升级`)
)

func findRenames(text, ver string) []Rename {
	var out []Rename
	add := func(from, to string) {
		if from == "" || from == to || slices.ContainsFunc(out, func(r Rename) bool { return r.From == from }) {
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
			// A key needs an underscore ("HTTP" is a word), unless it is
			// listed with one that has ("remove SENDER, SENDER_DIR").
			listed := re == removedKeyRes[len(removedKeyRes)-1] && strings.Contains(m[2], "_")
			for _, k := range m[1:] {
				if strings.Contains(k, "_") || listed && len(k) >= 4 {
					add(k, "")
				}
			}
		}
	}
	return out
}

func findRequirements(text string) []Requirement {
	var out []Requirement
	// Run the expressions only around each dependency name: they are
	// costly on long texts, and a requirement sits next to its name.
	lt := strings.ToLower(text)
	seen := map[[2]int]bool{}
	for _, at := range depPositions(lt) {
		lo, hi := max(0, at-80), min(len(text), at+60)
		for lo > 0 && !utf8.RuneStart(text[lo]) {
			lo--
		}
		for hi < len(text) && !utf8.RuneStart(text[hi]) {
			hi++
		}
		if seen[[2]int{lo, hi}] {
			continue
		}
		seen[[2]int{lo, hi}] = true
		win := text[lo:hi]
		for _, re := range reqRes {
			for _, m := range re.FindAllStringSubmatch(win, -1) {
				r := Requirement{Name: canonicalDep(m[1]), Version: m[2]}
				if !slices.Contains(out, r) {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// depPositions returns the byte offsets of dependency names in a
// lower-case text.
func depPositions(lt string) []int {
	var out []int
	start := -1
	for i, r := range lt + " " {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-'
		if word && start < 0 {
			start = i
		}
		if !word && start >= 0 {
			w := strings.TrimRight(lt[start:i], ".")
			if k := strings.IndexFunc(w, unicode.IsDigit); k > 0 {
				w = w[:k]
			}
			if depWordSet[w] {
				out = append(out, start)
			}
			start = -1
		}
	}
	return out
}

func findStops(text, ver string) []NoteStop {
	var out []NoteStop
	for _, re := range stopRes {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			v := ""
			for g := 1; g*2+1 < len(m); g++ {
				if m[g*2] >= 0 {
					v = text[m[g*2]:m[g*2+1]]
					break
				}
			}
			if v == "" || v == strings.TrimPrefix(ver, "v") || slices.ContainsFunc(out, func(s NoteStop) bool { return s.Version == v }) {
				continue
			}
			out = append(out, NoteStop{Version: v, Before: ver, Reason: sentenceAround(text, m[0])})
		}
	}
	return out
}

// sentenceAround returns the sentence of text that holds byte offset at.
func sentenceAround(text string, at int) string {
	start := 0
	for _, sep := range []string{". ", "。", "; ", "\n"} {
		if i := strings.LastIndex(text[:at], sep); i >= 0 && i+len(sep) > start {
			start = i + len(sep)
		}
	}
	end := len(text)
	for _, sep := range []string{". ", "。", "; ", "\n"} {
		if i := strings.Index(text[at:], sep); i >= 0 && at+i+1 < end {
			end = at + i + 1
		}
	}
	return strings.TrimSpace(text[start:end])
}

func canonicalDep(s string) string {
	switch strings.ToLower(s) {
	case "postgres", "pg", "postgresql":
		return "PostgreSQL"
	case "docker compose", "docker-compose", "compose":
		return "Docker Compose"
	case "node", "nodejs", "node.js":
		return "Node.js"
	case "mongo", "mongodb":
		return "MongoDB"
	case "golang", "go":
		return "Go"
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

func hasLetters(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

func isCommandLang(lang string) bool {
	switch lang {
	case "sql", "psql", "sh", "bash", "shell", "console", "zsh", "x", "", "text", "pgsql", "mysql":
		return true
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

var inlineMarkup = strings.NewReplacer("**", "", "__", "", "`", "")

func stripInlineMarkup(s string) string {
	return strings.Join(strings.Fields(inlineMarkup.Replace(s)), " ")
}

// gated is an expression that can only match a text containing gate
// (lower case); checking the gate first keeps extraction fast.
type gated struct {
	gate string
	re   *regexp.Regexp
}

// adminChecks: wording that asks something of the admin even outside a
// flagged section, each expression behind its gate.
var adminChecks = []gated{
	{"now require", regexp.MustCompile(`(?i)\bnow require[sd]? (?:that|the|you|your|users?|admins?|administrators?|operators?)\b`)},
	{"to ", regexp.MustCompile(`(?i)\bto (?:enable|keep|restore|re-?enable|opt in)\b[^.]{0,30}\bset\b|\bset\b[^.]{0,40}\bto (?:keep|restore) the (?:old|previous) behaviou?r\b`)},
	{"you", regexp.MustCompile(`(?i)\byou(?:'ll| will)? (?:need|have) to (?:update|change|set|add|remove|rename|run|migrate|re-?create|re-?index|edit|adjust|configure|move|delete|re-?generate|reconfigure|manually)`)},
	{"to be", regexp.MustCompile(`(?i)\b(?:need|needs|have|has) to be (?:updated|changed|set|migrated|re-?created|removed|renamed|done) manually`)},
	{"manually", regexp.MustCompile(`(?i)\bupdate (?:it|them|this|these|your \S+) manually`)},
	{"manual", regexp.MustCompile(`(?i)\bmanual (?:intervention|migration|steps?) (?:is |are )?(?:required|needed)`)},
	{"configuration change", regexp.MustCompile(`(?i)\bconfiguration changes? (?:is |are )?(?:needed|required)`)},
	{"action", regexp.MustCompile(`(?i)\baction (?:is )?required\b`)},
	{"requir", regexp.MustCompile(`(?i)\bnow requires? (?:the |a |an )?\S+ (?:param|parameter|option|setting|variable|flag|key)`)},
	{"must", regexp.MustCompile(`(?i)\bmust (?:now )?(?:be )?(?:set|add|update|change|configure|migrate|re-?create|rename|remove|run|specify|provide|define|enable|disable|install|upgrade)`)},
	{"no longer", regexp.MustCompile(`(?i)\bno longer (?:reads?|accepts?|supports?|uses?) (?:the )?` + "`?" + `[A-Z][A-Z0-9_]{3,}`)},
	{"migration", regexp.MustCompile(`(?i)\bmigration (?:that )?(?:drops?|deletes?|removes?)`)},
	{"drop", regexp.MustCompile(`(?i)\bdrop(?:s|ped)? (?:the )?(?:\w+ )?(?:\w+ )?columns?\b`)},
	{"data", regexp.MustCompile(`(?i)\bdata (?:will be |is )?(?:lost|deleted)\b`)},
	{"no longer", regexp.MustCompile(`(?i)\bno longer (?:runs?|works?|starts?) (?:as|under|with|on)\b`)},
	{"requir", regexp.MustCompile(`(?i)\brequires? running\b`)},
	{"must be", regexp.MustCompile(`(?i)\bmust be (?:manually )?(?:added|run|created|executed|applied|rebuilt|re-?indexed)\b`)},
	{"manually", regexp.MustCompile(`(?i)\bmanually (?:add|run|create|apply|rebuild)\b`)},
	{"from", regexp.MustCompile(`(?i)\b(?:delete|remove) (?:it|them) from (?:your|the) (?:config|\.env|configuration|settings)`)},
}

// matchGated reports whether one of checks matches plain (lp is plain in
// lower case).
func matchGated(lp, plain string, checks []gated) bool {
	for _, c := range checks {
		if strings.Contains(lp, c.gate) && c.re.MatchString(plain) {
			return true
		}
	}
	return false
}
