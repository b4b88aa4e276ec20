package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// TrustStore records which project profiles the user has reviewed, by
// content hash (direnv allow, mise trust): editing a trusted profile, or
// a file it extends, makes it untrusted again.
type TrustStore struct {
	// Path is the JSON file, normally StateDir/trust.json.
	Path string
}

type trustDB struct {
	Version  int                   `json:"version"`
	Profiles map[string]trustEntry `json:"profiles"`
}

type trustEntry struct {
	SHA256  string            `json:"sha256"`
	Extends map[string]string `json:"extends,omitempty"`
	Trusted time.Time         `json:"trusted"`
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// entry describes a chain: the last file is the project profile; the
// others are the files it extends (built-ins excluded: they are burrow's).
func entry(chain []*File) (string, trustEntry) {
	last := chain[len(chain)-1]
	e := trustEntry{SHA256: digest(last.Data), Extends: map[string]string{}}
	for _, f := range chain[:len(chain)-1] {
		if !f.Builtin() {
			e.Extends[f.Path] = digest(f.Data)
		}
	}
	return last.Path, e
}

func (s TrustStore) load() (trustDB, error) {
	db := trustDB{Version: 1, Profiles: map[string]trustEntry{}}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return db, nil
	}
	if err != nil {
		return db, err
	}
	if err := json.Unmarshal(b, &db); err != nil {
		return db, fmt.Errorf("%s is damaged (%v); delete it and trust your projects again", s.Path, err)
	}
	if db.Profiles == nil {
		db.Profiles = map[string]trustEntry{}
	}
	return db, nil
}

func (s TrustStore) save(db trustDB) error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(db, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.Path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.Path)
}

// Trusted reports whether the chain is trusted exactly as it is now.
func (s TrustStore) Trusted(chain []*File) (bool, error) {
	db, err := s.load()
	if err != nil {
		return false, err
	}
	path, want := entry(chain)
	got, ok := db.Profiles[path]
	if !ok || got.SHA256 != want.SHA256 || len(got.Extends) != len(want.Extends) {
		return false, nil
	}
	for p, h := range want.Extends {
		if got.Extends[p] != h {
			return false, nil
		}
	}
	return true, nil
}

// Trust records the chain as reviewed.
func (s TrustStore) Trust(chain []*File, now time.Time) error {
	db, err := s.load()
	if err != nil {
		return err
	}
	path, e := entry(chain)
	e.Trusted = now.UTC()
	db.Profiles[path] = e
	return s.save(db)
}

// Untrust forgets a project profile; it reports whether it was trusted.
func (s TrustStore) Untrust(path string) (bool, error) {
	db, err := s.load()
	if err != nil {
		return false, err
	}
	if _, ok := db.Profiles[path]; !ok {
		return false, nil
	}
	delete(db.Profiles, path)
	return true, s.save(db)
}
