package store

import "encoding/json"

// JSONList returns ids as a JSON array, for a query's
// `IN (SELECT value FROM json_each(?))`: one statement for any number of
// workspaces or contacts.
func JSONList(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}
