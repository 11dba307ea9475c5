package postgres

// SetStatsShard picks the shard of the endpoint counters db adds to, so a
// test can make two nodes use different ones.
func SetStatsShard(db *DB, shard int16) { db.statsShard = shard }

// Migration is the text of the embedded migration file name.
func Migration(name string) string {
	b, err := migrations.ReadFile("migrations/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}
