package transfer_test

import "sort"

func slicesSort(s []string) { sort.Strings(s) }
