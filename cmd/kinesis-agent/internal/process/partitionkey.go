package process

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

// KeyPicker chooses records' partition keys for a flow. Not safe for concurrent use.
type KeyPicker struct {
	deterministic bool
	field         []string
	re            *regexp.Regexp
	random        [randomKeys]string
	rng           *rand.Rand
}

// randomKeys is how many distinct RANDOM keys are used: enough to spread records
// evenly over any number of shards the MD5 ranges hold, few enough that the
// producer's partition key hash cache always hits.
const randomKeys = 1024

// NewKeyPicker returns the key picker of a flow: partitionKeyField,
// partitionKeyPattern, then partitionKeyOption (RANDOM or DETERMINISTIC) for
// records without that field or match. seed seeds RANDOM.
func NewKeyPicker(f *config.Flow, seed uint64) *KeyPicker {
	k := &KeyPicker{deterministic: f.PartitionKeyOption == "DETERMINISTIC", re: f.PartitionKeyPattern,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if f.PartitionKeyField != "" {
		k.field = strings.Split(f.PartitionKeyField, ".")
	}
	for i := range k.random {
		k.random[i] = strconv.FormatFloat(k.rng.Float64()*1e6, 'f', -1, 64)
	}
	return k
}

// Key returns the partition key of a (processed) record.
func (k *KeyPicker) Key(rec []byte) string {
	if k.field != nil {
		if key, ok := jsonField(rec, k.field); ok {
			return key
		}
	} else if k.re != nil {
		if m := k.re.FindSubmatch(rec); m != nil {
			key := m[0]
			if len(m) > 1 && m[1] != nil {
				key = m[1]
			}
			if s, ok := validKey(string(key)); ok {
				return s
			}
		}
	}
	if k.deterministic {
		sum := md5.Sum(rec)
		return hex.EncodeToString(sum[:])
	}
	return k.random[k.rng.IntN(randomKeys)]
}

// jsonField finds a (nested) field of a JSON object and returns it as a key:
// strings as they are, other values as their JSON text.
func jsonField(rec []byte, path []string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return "", false
	}
	for _, name := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = obj[name]; !ok || v == nil {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return validKey(x)
	case json.Number:
		return validKey(x.String())
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return validKey(string(b))
	}
}

// validKey cuts a key to Kinesis's 256 characters; an empty or invalid key is not one.
func validKey(s string) (string, bool) {
	if s == "" || !utf8.ValidString(s) {
		return "", false
	}
	if utf8.RuneCountInString(s) > 256 {
		n := 0
		for i := range s {
			if n == 256 {
				s = s[:i]
				break
			}
			n++
		}
	}
	return s, true
}
