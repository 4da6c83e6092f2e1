// Package kinesisuser tests code the way a user of kinesis-go does, from
// outside its module: with kinesistest instead of AWS or an emulator, and the
// lease store contract suite of checkpointtest. Its tests are the ones the
// README's "Testing your code" shows.
package kinesisuser
