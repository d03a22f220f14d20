package releases

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// section is the class of a (pseudo-)heading, admonition or lead-in.
type section int

const (
	secNone section = iota
	secNeutral
	// secInternal: for developers (internal changes, tests, CI, plugin
	// API); only renames and stops found there reach the admin.
	secInternal
	secBreaking
	secImportant
	secUpgrade
	secDeprecation
	secRequirement
)

func (s section) flagged() bool { return s >= secBreaking }

var (
	negHeadRe         = regexp.MustCompile(`(?i)^no (breaking|incompatible)|non-?breaking|without breaking|无破坏性|无不兼容`)
	audienceHeadRe    = regexp.MustCompile(`(?i)developer|plugin (api|sdk|authors?)|\bsdk\b|internal|contributors?|for (plugin|integration) authors|^refactor|^tests?$|^testing$|^ci$|^build|^chores?$|^dependenc|^deps$|^docs$|^documentation$|^improved documentation$|^translations?$|^localization$|^development$|^maintenance$|^technical|^meta$|^under the hood|^code quality|开发者|插件开发`)
	neutralHeadRe     = regexp.MustCompile(`(?i)^(new )?features?$|^(bug ?)?fix(es|ed)?$|^bugfixes$|^critical fixes$|^improvements?$|^enhancements?$|^changes$|^changed$|^added$|^security$|^performance$|^chores?$|^docs$|^documentation$|^improved documentation$|^what'?s changed$|^what'?s new$|^why upgrade|^benefits$|^overview$|^other changes$|^misc$|^miscellaneous$|^dependenc|^uncategori[sz]ed$|^thanks|^contributors|^new contributors|^highlights$|^refactor|^tests?$|^ci$|^build$|^maintenance$|^translations?$|^localization$|^新增|^修复|^优化|功能|^改进|^其他|^更新内容$|^full changelog`)
	breakingHeadRe    = regexp.MustCompile(`(?i)breaking|incompatib|不兼容|破坏性`)
	deprecationHeadRe = regexp.MustCompile(`(?i)deprecat|^removed?$|^removals?$|removed features|removal|^breaking$|弃用|废弃|移除`)
	requirementHeadRe = regexp.MustCompile(`(?i)requirements?$|prerequisites?|\bis now required$|\bnow requires?\b|^minimum (?:supported )?\S+ version|^(?:dropped|dropping|drop|removed|ending) support for|系统要求|环境要求|依赖要求`)
	impactHeadRe      = regexp.MustCompile(`(?i)upgrade impact`)
	upgradeHeadRe     = regexp.MustCompile(`(?i)upgrad|migrat|action(s)? (is )?required|actions? needed|before you|how to|manual steps|升级(说明|指南|注意|步骤|须知|前|方法|方式|教程|提示|必读)|升级.{0,12}(?:手册|指南|说明|步骤|教程|须知)|如何升级|迁移(指南|说明|步骤|须知|注意|教程)|必读`)
	importantHeadRe   = regexp.MustCompile(`(?i)important|attention|warning|caution|danger|^please note|^notice$|^heads[- ]up|^read (?:this|me) first|注意|警告|重要`)
	featureCNRe       = regexp.MustCompile(`功能|体验|界面|性能|全面|能力|模型|优化|新增`)
)

// headingWords reduces a heading to letters, digits and a few signs.
func headingWords(text string) string {
	t := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '\'' || r == '.' || r == '-' {
			return r
		}
		return ' '
	}, text))
	return strings.Join(strings.Fields(t), " ")
}

// headingCache remembers heading classes: the same few headings ("Bug
// Fixes", "Features") come back in every version of a changelog.
var headingCache = struct {
	sync.Mutex
	m map[string]section
}{m: map[string]section{}}

// classifyHeading returns the class of a heading; secNone means "inherit".
func classifyHeading(text string) section {
	headingCache.Lock()
	s, ok := headingCache.m[text]
	headingCache.Unlock()
	if ok {
		return s
	}
	s = classifyHeadingText(text)
	headingCache.Lock()
	if len(headingCache.m) > 4096 {
		headingCache.m = map[string]section{}
	}
	headingCache.m[text] = s
	headingCache.Unlock()
	return s
}

func classifyHeadingText(text string) section {
	t := headingWords(text)
	switch {
	case t == "":
		return secNone
	case negHeadRe.MatchString(t):
		return secNeutral
	case breakingHeadRe.MatchString(t):
		if audienceHeadRe.MatchString(t) {
			return secInternal
		}
		return secBreaking
	case audienceHeadRe.MatchString(t):
		return secInternal
	case neutralHeadRe.MatchString(t) && (!strings.Contains(t, "升级") || featureCNRe.MatchString(t)):
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

// admonitionSection is the class of an admonition kind.
func admonitionSection(kind string) section {
	switch strings.ToLower(kind) {
	case "attention", "important", "warning", "caution", "danger", "error", "breaking":
		return secImportant
	case "deprecated", "versionremoved":
		return secDeprecation
	}
	return secNone
}

// leadInSection classifies a short line ending with a colon ("how to
// upgrade:", "Breaking changes:"); secNone when it is not one.
func leadInSection(text string) section {
	t := strings.TrimSpace(strings.Trim(strings.TrimSpace(text), "*_"))
	if !strings.HasSuffix(t, ":") && !strings.HasSuffix(t, "：") {
		return secNone
	}
	if utf8.RuneCountInString(t) > 60 {
		return secNone
	}
	head := strings.TrimRight(t, ":：")
	// "从 X 迁移到 Y：" is a port, not a migration the admin runs.
	if strings.Contains(head, "迁移") && !upgradeHeadRe.MatchString(head) {
		return secNeutral
	}
	return classifyHeading(head)
}
