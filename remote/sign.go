package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Key files hold one line, NAME:BASE64, in the manner of binary caches that
// sign their paths: the public key file holds the 32-byte public key, the
// secret key file the 64-byte private key. The name travels with each
// signature so that a client finds the key to check it with.

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// SignKey is a named private key.
type SignKey struct {
	Name string
	Key  ed25519.PrivateKey
}

// TrustKey is a named public key.
type TrustKey struct {
	Name string
	Key  ed25519.PublicKey
}

// Keygen writes a new key pair: NAME.sec (mode 0600) and NAME.pub under dir.
func Keygen(dir, name string) (secPath, pubPath string, err error) {
	if !keyName.MatchString(name) {
		return "", "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-'", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	secPath, pubPath = dir+"/"+name+".sec", dir+"/"+name+".pub"
	if err := os.WriteFile(secPath, []byte(name+":"+base64.StdEncoding.EncodeToString(priv)+"\n"), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(pubPath, []byte(name+":"+base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return secPath, pubPath, nil
}

func readKeyFile(path string, size int) (string, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	name, enc, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || !keyName.MatchString(name) {
		return "", nil, fmt.Errorf("key file %q: want one line NAME:BASE64", path)
	}
	k, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(k) != size {
		return "", nil, fmt.Errorf("key file %q: want %d bytes of base64 after the name (is it the other half of the pair?)", path, size)
	}
	return name, k, nil
}

// ReadSignKey reads a secret key file written by Keygen.
func ReadSignKey(path string) (*SignKey, error) {
	name, k, err := readKeyFile(path, ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	return &SignKey{Name: name, Key: ed25519.PrivateKey(k)}, nil
}

// ReadTrustKey reads a public key file written by Keygen.
func ReadTrustKey(path string) (*TrustKey, error) {
	name, k, err := readKeyFile(path, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return &TrustKey{Name: name, Key: ed25519.PublicKey(k)}, nil
}

// sign adds k's signature to e, replacing an older one of the same name.
func (e *Entry) sign(k *SignKey) {
	sig := ed25519.Sign(k.Key, e.payload())
	var kept []Sig
	for _, s := range e.Sigs {
		if s.Name != k.Name {
			kept = append(kept, s)
		}
	}
	e.Sigs = append(kept, Sig{Name: k.Name, Sig: sig})
}

// trusted reports whether one of e's signatures is a valid signature by one
// of keys.
func (e *Entry) trusted(keys []*TrustKey) bool {
	p := e.payload()
	for _, s := range e.Sigs {
		for _, k := range keys {
			if s.Name == k.Name && ed25519.Verify(k.Key, p, s.Sig) {
				return true
			}
		}
	}
	return false
}
