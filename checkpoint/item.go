package checkpoint

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the KCL 2.x lease table.
const (
	attrLeaseKey           = "leaseKey"
	attrLeaseOwner         = "leaseOwner"
	attrLeaseCounter       = "leaseCounter"
	attrCheckpoint         = "checkpoint"
	attrCheckpointSub      = "checkpointSubSequenceNumber"
	attrOwnerSwitches      = "ownerSwitchesSinceCheckpoint"
	attrPendingCheckpoint  = "pendingCheckpoint"
	attrPendingSub         = "pendingCheckpointSubSequenceNumber"
	attrPendingState       = "pendingCheckpointState"
	attrParentShardIDs     = "parentShardId"
	attrChildShardIDs      = "childShardIds"
	attrStartingHashKey    = "startingHashKey"
	attrEndingHashKey      = "endingHashKey"
	attrCheckpointOwner    = "checkpointOwner" // KCL 3.x
	attrThroughputKBps     = "throughputKBps"  // KCL 3.x
	attrOwnerSince         = "ownerSinceCounter"
	conditionalCheckFailed = "ConditionalCheckFailedException"
)

func attrS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func attrN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func attrF(f float64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}
func attrSS(s []string) types.AttributeValue {
	return &types.AttributeValueMemberSS{Value: sortedSet(s)}
}

// leaseToItem encodes l the way KCL 2.x and 3.x do (DynamoDBLeaseSerializer.toDynamoRecord):
// leaseKey, leaseCounter, ownerSwitchesSinceCheckpoint, checkpoint and
// checkpointSubSequenceNumber always; leaseOwner, parentShardId, childShardIds, the pending
// checkpoint, the hash range, the 3.x checkpointOwner and throughputKBps and this library's
// ownerSinceCounter only when set.
func leaseToItem(l Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrLeaseKey:      attrS(l.Key),
		attrLeaseCounter:  attrN(l.Counter),
		attrOwnerSwitches: attrN(l.OwnerSwitchesSinceCheckpoint),
	}
	if l.Owner != "" {
		item[attrLeaseOwner] = attrS(l.Owner)
	}
	if l.Checkpoint.SequenceNumber != "" {
		item[attrCheckpoint] = attrS(l.Checkpoint.SequenceNumber)
		item[attrCheckpointSub] = attrN(l.Checkpoint.SubSequenceNumber)
	}
	if p := l.PendingCheckpoint; p != nil && p.SequenceNumber != "" {
		item[attrPendingCheckpoint] = attrS(p.SequenceNumber)
		item[attrPendingSub] = attrN(p.SubSequenceNumber)
	}
	if l.PendingCheckpointState != nil {
		item[attrPendingState] = &types.AttributeValueMemberB{Value: slices.Clone(l.PendingCheckpointState)}
	}
	if len(l.ParentShardIDs) > 0 {
		item[attrParentShardIDs] = attrSS(l.ParentShardIDs)
	}
	if len(l.ChildShardIDs) > 0 {
		item[attrChildShardIDs] = attrSS(l.ChildShardIDs)
	}
	if l.StartingHashKey != "" {
		item[attrStartingHashKey] = attrS(l.StartingHashKey)
	}
	if l.EndingHashKey != "" {
		item[attrEndingHashKey] = attrS(l.EndingHashKey)
	}
	if l.CheckpointOwner != "" {
		item[attrCheckpointOwner] = attrS(l.CheckpointOwner)
	}
	if l.ThroughputKBps > 0 {
		item[attrThroughputKBps] = attrF(l.ThroughputKBps)
	}
	if l.OwnerSinceCounter > 0 {
		item[attrOwnerSince] = attrN(l.OwnerSinceCounter)
	}
	return item
}

// itemToLease decodes a lease item. Absent optional attributes leave their fields zero;
// attributes this library does not know (other KCL 3.x additions, application extras)
// are ignored. An attribute of the wrong type or an unparsable number is ErrMalformedLease.
func itemToLease(item map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	d := itemDecoder{item: item}
	l.Key = d.str(attrLeaseKey)
	if l.Key == "" && d.err == nil {
		return Lease{}, fmt.Errorf("%w: the item has no %s", ErrMalformedLease, attrLeaseKey)
	}
	l.Owner = d.str(attrLeaseOwner)
	l.Counter = d.num(attrLeaseCounter)
	l.OwnerSwitchesSinceCheckpoint = d.num(attrOwnerSwitches)
	l.Checkpoint = ExtendedSequenceNumber{SequenceNumber: d.str(attrCheckpoint), SubSequenceNumber: d.num(attrCheckpointSub)}
	if seq := d.str(attrPendingCheckpoint); seq != "" {
		l.PendingCheckpoint = &ExtendedSequenceNumber{SequenceNumber: seq, SubSequenceNumber: d.num(attrPendingSub)}
	}
	l.PendingCheckpointState = d.bytes(attrPendingState)
	l.ParentShardIDs = d.set(attrParentShardIDs)
	l.ChildShardIDs = d.set(attrChildShardIDs)
	l.StartingHashKey = d.str(attrStartingHashKey)
	l.EndingHashKey = d.str(attrEndingHashKey)
	l.CheckpointOwner = d.str(attrCheckpointOwner)
	l.ThroughputKBps = d.float(attrThroughputKBps)
	l.OwnerSinceCounter = d.num(attrOwnerSince)
	if d.err != nil {
		return Lease{}, fmt.Errorf("%w: lease %q: %w", ErrMalformedLease, l.Key, d.err)
	}
	return l, nil
}

// itemDecoder reads typed attributes, remembering the first type or parse error.
type itemDecoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *itemDecoder) fail(name, want string, v types.AttributeValue) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s is %T, want %s", name, v, want)
	}
}

func (d *itemDecoder) str(name string) string {
	v, ok := d.item[name]
	if !ok {
		return ""
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "S", v)
		return ""
	}
	return s.Value
}

func (d *itemDecoder) num(name string) int64 {
	return parseNumber(d, name, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
}

func (d *itemDecoder) float(name string) float64 {
	return parseNumber(d, name, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

// parseNumber reads a Number attribute with parse; absent or NULL is zero.
func parseNumber[T int64 | float64](d *itemDecoder, name string, parse func(string) (T, error)) T {
	v, ok := d.item[name]
	if !ok {
		return 0
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, "N", v)
		return 0
	}
	x, err := parse(n.Value)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return x
}

func (d *itemDecoder) bytes(name string) []byte {
	v, ok := d.item[name]
	if !ok {
		return nil
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return nil
	}
	b, ok := v.(*types.AttributeValueMemberB)
	if !ok {
		d.fail(name, "B", v)
		return nil
	}
	return slices.Clone(b.Value)
}

func (d *itemDecoder) set(name string) []string {
	v, ok := d.item[name]
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberSS:
		return sortedSet(v.Value)
	}
	d.fail(name, "SS", v)
	return nil
}
