package stocktrade

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestArchiveFlags(t *testing.T) {
	c, err := ParseArchiveFlags(nil, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "stocktrade-archive", c.Dir)
	require.Equal(t, "gzip", c.Compression)
	for _, args := range [][]string{{"-nope"}, {"-initial-position", "MIDDLE"}, {"extra"}, {"-endpoint", "http://127.0.0.1:1"}} {
		_, err := ParseArchiveFlags(args, io.Discard)
		require.Error(t, err, "archive %v", args)
	}
}

// The archive writes every trade once, in the folder of its type, and a record that is
// not a trade to the error output.
func TestArchiveEndToEnd(t *testing.T) {
	env := testbed.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stream := env.CreateStream(t, 2)
	const count = 300
	_, err := RunProducer(ctx, ProducerConfig{Stream: stream, Endpoint: env.KinesisEndpoint, Rate: 1000, Count: count, Seed: 7, Progress: time.Second}, io.Discard, slog.Default())
	require.NoError(t, err)
	_, err = env.Kinesis().PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("x"), Data: []byte("not a trade")})
	require.NoError(t, err)

	dir := t.TempDir()
	var taken atomic.Int64
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunArchive(actx, ArchiveConfig{
			Stream: stream, App: testbed.UniqueName("archive"), Endpoint: env.KinesisEndpoint, DynamoDBEndpoint: env.DynamoDBEndpoint,
			Dir: dir, BufferInterval: time.Second, BufferSize: 1 << 20, Compression: "gzip", InitialPosition: "TRIM_HORIZON", Taken: &taken,
		}, io.Discard, slog.Default())
	}()
	require.Eventually(t, func() bool { return taken.Load() >= count+1 }, 2*time.Minute, 50*time.Millisecond)
	stop()
	require.NoError(t, <-done)

	trades, failed := 0, 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, dir+string(filepath.Separator)))
		if strings.HasPrefix(rel, "_kinesis-sink/") {
			return nil
		}
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		body, err := io.ReadAll(zr)
		require.NoError(t, err)
		for _, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			if strings.HasPrefix(rel, "processing-failed/") {
				failed++
				continue
			}
			tr, err := Decode(line)
			require.NoError(t, err)
			require.Contains(t, rel, "trades/type="+string(tr.TradeType)+"/", "trade %d is in its type's folder", tr.ID)
			trades++
		}
		return nil
	}))
	require.Equal(t, count, trades, "every trade archived once")
	require.Equal(t, 1, failed, "the record that is not a trade is in the error output")
}
