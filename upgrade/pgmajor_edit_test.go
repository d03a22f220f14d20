package upgrade

import (
	"os"
	"strings"
	"testing"
)

func readerOf(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, os.ErrNotExist
		}
		return []byte(s), nil
	}
}

const pgComposeVar = `# my stack
services:
  db:
    image: ${POSTGRES_IMAGE:-postgres:15-alpine}   # the server
    volumes:
      - db-data:/var/lib/postgresql/data
  app:
    image: me/app:1.0
    volumes:
      - uploads:/data

volumes:
  db-data:
  uploads:
`

func TestPlanPGSwitchEnvVariable(t *testing.T) {
	files := map[string]string{"/p/compose.yaml": pgComposeVar, "/p/.env": "# env\nPOSTGRES_IMAGE=postgres:15-alpine\nDB_USER=u\n"}
	w, err := planPGSwitch([]string{"/p/compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
	if err != nil {
		t.Fatal(err)
	}
	if w.imageVar != "POSTGRES_IMAGE" || w.oldImage != "postgres:15-alpine" || w.oldVolume != "db-data" || w.newVolume != "db-data-pg17" || w.done {
		t.Fatalf("switch %+v", w)
	}
	if got := string(w.envNext); got != "# env\nPOSTGRES_IMAGE=postgres:17-alpine\nDB_USER=u\n" {
		t.Fatalf(".env after:\n%s", got)
	}
	want := strings.Replace(pgComposeVar, "      - db-data:/var/lib/postgresql/data", "      - db-data-pg17:/var/lib/postgresql/data", 1)
	want = strings.Replace(want, "  db-data:\n  uploads:", "  db-data:\n  db-data-pg17:\n  uploads:", 1)
	if got := string(w.next["/p/compose.yaml"]); got != want {
		t.Fatalf("compose after:\n%s\nwant:\n%s", got, want)
	}
	if d := w.Diff("/p/.env"); !strings.Contains(d, "+POSTGRES_IMAGE=postgres:17-alpine") || !strings.Contains(d, "+      - db-data-pg17:/var/lib/postgresql/data") {
		t.Fatalf("diff:\n%s", d)
	}

	// Applied: the same plan finds nothing left to do.
	files["/p/compose.yaml"], files["/p/.env"] = string(w.next["/p/compose.yaml"]), string(w.envNext)
	again, err := planPGSwitch([]string{"/p/compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
	if err != nil || !again.done {
		t.Fatalf("second plan: %v %+v", err, again)
	}
}

func TestPlanPGSwitchLiteralLongSyntax(t *testing.T) {
	compose := `services:
  postgres:
    image: "postgres:13-alpine"
    volumes:
      - type: volume
        source: pgdata
        target: /var/lib/postgresql/data/
volumes:
  pgdata:
    driver: local
  other: {}
`
	files := map[string]string{"/p/docker-compose.yml": compose}
	w, err := planPGSwitch([]string{"/p/docker-compose.yml"}, readerOf(files), "/p/.env", "postgres", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
	if err != nil {
		t.Fatal(err)
	}
	want := `services:
  postgres:
    image: "postgres:17-alpine"
    volumes:
      - type: volume
        source: pgdata-pg17
        target: /var/lib/postgresql/data/
volumes:
  pgdata:
    driver: local
  pgdata-pg17:
  other: {}
`
	if got := string(w.next["/p/docker-compose.yml"]); got != want || w.envNext != nil || w.oldImage != "postgres:13-alpine" {
		t.Fatalf("compose after:\n%s", got)
	}
}

func TestPlanPGSwitchRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ compose, want string }{
		"mixed path": {"services:\n  db:\n    image: postgres:15\n    volumes:\n      - ${BASE}/pg:/var/lib/postgresql/data\n", "mixes text and variables"},
		"unset path": {"services:\n  db:\n    image: postgres:15\n    volumes:\n      - ${PGPATH}:/var/lib/postgresql/data\n", "does not set"},
		"anonymous":  {"services:\n  db:\n    image: postgres:15\n    volumes:\n      - /var/lib/postgresql/data\n", "anonymous volume"},
		"no image":   {"services:\n  db:\n    build: .\n    volumes:\n      - d:/var/lib/postgresql/data\nvolumes:\n  d:\n", "plain image"},
		"no volume":  {"services:\n  db:\n    image: postgres:15\n", "no compose file mounts a volume"},
		"external":   {"services:\n  db:\n    image: postgres:15\n    volumes:\n      - d:/var/lib/postgresql/data\nvolumes:\n  d:\n    external: true\n", "external:"},
		"mixed var":  {"services:\n  db:\n    image: ${REG}/postgres:${TAG}\n    volumes:\n      - d:/var/lib/postgresql/data\nvolumes:\n  d:\n", "mixes text and variables"},
		"undeclared": {"services:\n  db:\n    image: postgres:15\n    volumes:\n      - d:/var/lib/postgresql/data\n", "not declared"},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"/p/c.yaml": tc.compose}
			_, err := planPGSwitch([]string{"/p/c.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17", 17)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Nothing was changed") {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPlanPGSwitchBindMounts: the real layouts keep PostgreSQL's data in a
// directory of the host (Dify ./volumes/db/data, Mattermost
// ${POSTGRES_DATA_PATH} with image postgres:${POSTGRES_IMAGE_TAG},
// Nightingale ./pgdata with a PGDATA subdirectory): the new major's goes
// next to it, by the compose file's path or the .env variable.
func TestPlanPGSwitchBindMounts(t *testing.T) {
	t.Run("literal", func(t *testing.T) {
		compose := "services:\n  db:\n    image: postgres:15-alpine # bundled\n    volumes:\n      - ./volumes/db/data/:/var/lib/postgresql/data\n"
		files := map[string]string{"/p/docker-compose.yaml": compose}
		w, err := planPGSwitch([]string{"/p/docker-compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
		if err != nil {
			t.Fatal(err)
		}
		want := "services:\n  db:\n    image: postgres:17-alpine # bundled\n    volumes:\n      - ./volumes/db/data-pg17:/var/lib/postgresql/data\n"
		if got := string(w.next["/p/docker-compose.yaml"]); got != want || !w.bind || w.oldVolume != "./volumes/db/data" || w.envNext != nil {
			t.Fatalf("switch %+v, compose after:\n%s", w, got)
		}
		files["/p/docker-compose.yaml"] = want
		if again, err := planPGSwitch([]string{"/p/docker-compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17); err != nil || !again.done {
			t.Fatalf("second plan: %v %+v", err, again)
		}
	})
	t.Run("variables", func(t *testing.T) {
		compose := "services:\n  postgres:\n    image: postgres:${POSTGRES_IMAGE_TAG}\n    volumes:\n      - ${POSTGRES_DATA_PATH}:/var/lib/postgresql/data\n"
		env := "POSTGRES_IMAGE_TAG=13-alpine\nPOSTGRES_DATA_PATH=./volumes/db/var/lib/postgresql/data\n"
		files := map[string]string{"/p/docker-compose.yml": compose, "/p/.env": env}
		w, err := planPGSwitch([]string{"/p/docker-compose.yml"}, readerOf(files), "/p/.env", "postgres", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.next) != 0 || w.oldImage != "postgres:13-alpine" || w.imageVar != "POSTGRES_IMAGE_TAG" || w.dirVar != "POSTGRES_DATA_PATH" {
			t.Fatalf("switch %+v", w)
		}
		wantEnv := "POSTGRES_IMAGE_TAG=17-alpine\nPOSTGRES_DATA_PATH=./volumes/db/var/lib/postgresql/data-pg17\n"
		if got := string(w.envNext); got != wantEnv {
			t.Fatalf(".env after:\n%s", got)
		}
		// Another repository than the line's: the line becomes the image.
		w, err = planPGSwitch([]string{"/p/docker-compose.yml"}, readerOf(files), "/p/.env", "postgres", "/var/lib/postgresql/data", "registry.local/pg:17", 17)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(w.next["/p/docker-compose.yml"]); !strings.Contains(got, "    image: registry.local/pg:17\n") || w.imageVar != "" {
			t.Fatalf("compose after:\n%s", got)
		}
		files["/p/.env"] = wantEnv
		if again, err := planPGSwitch([]string{"/p/docker-compose.yml"}, readerOf(files), "/p/.env", "postgres", "/var/lib/postgresql/data", "postgres:17-alpine", 17); err != nil || !again.done {
			t.Fatalf("second plan: %v %+v", err, again)
		}
	})
	t.Run("default and long syntax", func(t *testing.T) {
		compose := "services:\n  db:\n    image: postgres:12-alpine\n    volumes:\n      - type: bind\n        source: ${PG_DIR:-./pgdata}\n        target: /var/lib/postgresql/data\n      - ${INIT:-./init}:/docker-entrypoint-initdb.d\n"
		files := map[string]string{"/p/compose.yaml": compose}
		w, err := planPGSwitch([]string{"/p/compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
		if err != nil {
			t.Fatal(err)
		}
		if w.dirVar != "PG_DIR" || string(w.envNext) != "PG_DIR=./pgdata-pg17\n" || !strings.Contains(string(w.next["/p/compose.yaml"]), "image: postgres:17-alpine") {
			t.Fatalf("switch %+v\n.env %q\ncompose %s", w, w.envNext, w.next["/p/compose.yaml"])
		}
	})
}

func TestCleanHostPath(t *testing.T) {
	for in, want := range map[string]string{
		"./volumes/db/data/": "./volumes/db/data", "./pgdata/.": "./pgdata", "./a/../pgdata": "./pgdata",
		"../shared/db": "../shared/db", "/srv/db/": "/srv/db", "~/db": "~/db", "./x/../../db": "../db",
	} {
		if got := cleanHostPath(in); got != want {
			t.Errorf("cleanHostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPlanPGSwitchFollowsAnchors: a database service that takes its image
// and volumes from an anchor is edited where they are written; an image
// written once for the database and another service is refused, since
// pointing it at the new major would change both.
func TestPlanPGSwitchFollowsAnchors(t *testing.T) {
	compose := `x-db: &db
  image: postgres:15-alpine # pinned
  restart: always
  volumes:
    - pgdata:/var/lib/postgresql/data
services:
  db:
    <<: *db
volumes:
  pgdata:
`
	files := map[string]string{"/p/compose.yaml": compose}
	w, err := planPGSwitch([]string{"/p/compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(compose, "image: postgres:15-alpine # pinned", "image: postgres:17-alpine # pinned", 1)
	want = strings.Replace(want, "    - pgdata:/var", "    - pgdata-pg17:/var", 1)
	want = strings.Replace(want, "  pgdata:\n", "  pgdata:\n  pgdata-pg17:\n", 1)
	if got := string(w.next["/p/compose.yaml"]); got != want {
		t.Fatalf("compose after:\n%s\nwant:\n%s", got, want)
	}

	shared := `x-pg: &pg postgres:15-alpine
services:
  db:
    image: *pg
    volumes: [pgdata:/var/lib/postgresql/data]
  pg-backup:
    image: *pg
volumes:
  pgdata:
`
	files = map[string]string{"/p/compose.yaml": shared}
	_, err = planPGSwitch([]string{"/p/compose.yaml"}, readerOf(files), "/p/.env", "db", "/var/lib/postgresql/data", "postgres:17-alpine", 17)
	wantErr(t, err, "written once for db, pg-backup", "through the anchor &pg", "Nothing was changed")
}
