package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tandem-kv/tandem/client"
)

// Example writes, reads and scans a few records. It needs a running
// cluster, so it is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, "127.0.0.1:7100")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.CreateTable(ctx, "demo", 8, 0); err != nil {
		log.Printf("create: %v", err) // it may exist already
	}
	tbl, err := c.Table(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}

	user := []byte("user1")
	if err := tbl.Set(ctx, user, []byte("name"), []byte("Ada")); err != nil {
		log.Fatal(err)
	}
	if err := tbl.Set(ctx, user, []byte("session"), []byte("s-42"), client.WithTTL(time.Hour)); err != nil {
		log.Fatal(err)
	}
	err = tbl.MultiSet(ctx, user, []client.SortKeyValue{
		{SortKey: []byte("city"), Value: []byte("London")},
		{SortKey: []byte("lang"), Value: []byte("en")},
	})
	if err != nil {
		log.Fatal(err)
	}

	name, err := tbl.Get(ctx, user, []byte("name"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("name = %s\n", name)

	if _, err := tbl.Get(ctx, user, []byte("missing")); errors.Is(err, client.ErrNotFound) {
		fmt.Println("missing is absent")
	}

	recs, err := tbl.ScanHashKey(ctx, user, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Printf("%s %s => %s\n", r.HashKey, r.SortKey, r.Value)
	}

	n, err := tbl.Count(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("records:", n)
}
