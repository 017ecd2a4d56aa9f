#!/usr/bin/env bash
# make mutants: break the code in a handful of ways a careless change could,
# one at a time, in a throwaway copy of HEAD, and check that the tests of the
# package catch each. Prints one line per mutant and the score; fails when a
# mutant survives (a test that stays green while its feature is broken is a
# defect) or a pattern no longer exists (update this file with the code).
set -uo pipefail
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
cleanup() { git -C "$root" worktree remove --force "$tmp/wt" >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
git -C "$root" worktree add --detach "$tmp/wt" HEAD >/dev/null 2>&1 || { echo "mutants: cannot make a worktree"; exit 1; }
cd "$tmp/wt" || exit 1
caught=0 total=0 failed=0

# mutant NAME FILE FROM TO PACKAGE...: replace the first FROM in FILE by TO,
# run the packages' tests, put FILE back.
mutant() {
	local name=$1 file=$2 from=$3 to=$4
	shift 4
	total=$((total + 1))
	if ! FROM=$from perl -0ne 'exit(index($_, $ENV{FROM}) >= 0 ? 0 : 1)' "$file"; then
		echo "MUTANT $name: the code to mutate is gone from $file"
		failed=1
		return
	fi
	cp "$file" "$tmp/orig"
	FROM=$from TO=$to perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
	if cmp -s "$file" "$tmp/orig"; then
		echo "MUTANT $name: not applied to $file"
		failed=1
		return
	fi
	if go test -count=1 "$@" >"$tmp/out" 2>&1; then
		echo "MUTANT $name: SURVIVED (the tests of $* stay green)"
		failed=1
	else
		caught=$((caught + 1))
		local by
		by=$(grep -m1 -o -- '--- FAIL: [A-Za-z0-9_/]*' "$tmp/out" | cut -c11-)
		echo "MUTANT $name: caught by ${by:-the compiler}"
	fi
	cp "$tmp/orig" "$file"
}

mutant sort-by-name-is-by-id pkg/contact/query.go '"c.first_name COLLATE NOCASE"' '"c.id"' ./pkg/contact ./pkg/web
mutant list-ignores-stage pkg/web/contacts.go 'StageID: v.Get("stage"),' 'StageID: "",' ./pkg/web
# The pages check the workspace before any store call: the stores' own
# check is the API's and the capabilities' tests' to catch.
mutant workspace-not-owned pkg/workspace/store.go 'SELECT 1 FROM workspaces WHERE id = ? AND owner_id = ?' 'SELECT 1 FROM workspaces WHERE id = ? OR owner_id = ?' ./pkg/contact ./pkg/api
mutant scoped-read-skips-owner pkg/workspace/store.go 'return db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil {' 'return db.Read(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil && false {' ./pkg/contact ./pkg/emailtemplate ./pkg/api
mutant scoped-write-skips-owner pkg/workspace/store.go 'return db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil {' 'return db.Write(ctx, func(conn *sqlite.Conn) error {
		if err := Owned(conn, actor, wsID); err != nil && false {' ./pkg/contact ./pkg/emailtemplate ./pkg/api
mutant rename-touches-others pkg/workspace/store.go 'SET name = ?, updated_at = ? WHERE id = ? AND owner_id = ?' 'SET name = ?, updated_at = ? WHERE id = ? OR owner_id = ?' ./pkg/workspace
mutant index-keeps-note-markup pkg/richtext/richtext.go 'return html.UnescapeString(b.String())' 'return html.UnescapeString("") + b.String()' ./pkg/contact
mutant bad-value-refuses-row pkg/csvio/mapping.go '	return nil, warns
}' '	return warns, nil
}' ./pkg/csvio ./pkg/transfer
mutant fax-made-primary pkg/contact/validate.go 'if !IsFax(n.phones[i].Label) {' 'if true {' ./pkg/contact
mutant static-hash-not-the-file pkg/web/static.go 'hex.EncodeToString(sum[:6])' 'hex.EncodeToString(sum[1:7])' ./pkg/web
mutant keep-separate-ignored pkg/contact/dedup.go '	AND NOT EXISTS (SELECT 1 FROM kept_separate k WHERE k.contact_a = a.contact_id AND k.contact_b = b.contact_id)
UNION' '
UNION' ./pkg/contact ./pkg/web
mutant known-duplicate-blocks-save pkg/contact/store.go 'norms, phones := added(old, n)' 'norms, phones := n.norms, n.phones' ./pkg/web
mutant failed-alert-marked-sent pkg/health/alert.go 'logkey.Err, err)
			continue' 'logkey.Err, err)' ./pkg/health
mutant report-line-off-by-one pkg/csvio/reader.go 'return Record{Row: r.row, Line: line, Fields: fields}, nil' 'return Record{Row: r.row, Line: line - 1, Fields: fields}, nil' ./pkg/csvio
mutant restore-drops-log pkg/transfer/restore.go 'return x.restoreLog(ctx, actor, wsID, byID, f, ids, out)' 'return nil' ./pkg/transfer
# The job runner and the daemon loop.
mutant fence-holds-for-anyone pkg/jobs/queue.go "UPDATE jobs SET lease_until = ? WHERE id = ? AND runner = ? AND state = 'running'\`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now().Add(c.lease)), c.ID, c.runner}}" "UPDATE jobs SET lease_until = ? WHERE id = ? AND ? <> '' AND state = 'running'\`,
		&sqlitex.ExecOptions{Args: []any{store.FormatTime(time.Now().Add(c.lease)), c.ID, c.runner}}" ./pkg/jobs ./pkg/transfer
mutant expired-lease-never-claimable pkg/jobs/queue.go "const claimable = \`((state = 'queued' AND due_at <= ?) OR (state = 'running' AND lease_until < ?))\`" "const claimable = \`((state = 'queued' AND due_at <= ?) OR (state = 'running' AND lease_until < ? AND 0))\`" ./pkg/jobs ./pkg/transfer
mutant stop-counts-attempt pkg/jobs/runner.go 'return retry(conn, c, now, "", true)' 'return retry(conn, c, now, "", false)' ./pkg/jobs
mutant import-batch-unfenced pkg/transfer/import_run.go '	if err := c.Fence(conn); err != nil {
		return err
	}
	lines := b.bad' '	lines := b.bad' ./pkg/transfer
mutant job-blocks-the-loop pkg/daemon/loop.go '		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.running.Unlock()' '		wg.Add(1)
		func() {
			defer wg.Done()
			defer p.running.Unlock()' ./pkg/daemon
# Templates, images and the AI drafts.
mutant template-value-unescaped pkg/placeholder/html.go 'out.WriteString(html.EscapeString(Fill(sg.nodes, v, raw1)))' 'out.WriteString(Fill(sg.nodes, v, raw1))' ./pkg/placeholder ./pkg/emailtemplate
mutant url-scheme-unchecked pkg/placeholder/html.go '			if safeURL(val) {
				out.WriteString' '			if true {
				out.WriteString' ./pkg/placeholder
mutant template-body-unsanitized pkg/emailtemplate/store.go 'c.BodyHTML = unchip(unmangleURLs(s.policy.Clean(c.BodyHTML)))' 'c.BodyHTML = unchip(unmangleURLs(c.BodyHTML))' ./pkg/emailtemplate
mutant template-of-any-workspace pkg/emailtemplate/store.go 'FROM email_templates WHERE id = ? AND workspace_id = ?`' 'FROM email_templates WHERE id = ? OR workspace_id = ?`' ./pkg/emailtemplate ./pkg/web
mutant share-ignores-viewer pkg/emailtemplate/share.go 'WHERE sh.viewer_id = ?`' 'WHERE sh.viewer_id <> ? OR 1`' ./pkg/emailtemplate
mutant fetch-reaches-lan pkg/images/fetch.go '		if !f.allowed(a) {' '		if false && !f.allowed(a) {' ./pkg/images
mutant image-keeps-metadata pkg/images/clean.go '	img = fit(img, MaxWidth)
	return encode(' '	img = fit(img, MaxWidth)
	return Clean{Data: b, ContentType: ct, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}, nil
	return encode(' ./pkg/images
mutant skeleton-cached-per-contact pkg/emailtemplate/render.go '	e.HTML = sk.html.Fill(v)' '	e.HTML = sk.html.Fill(placeholder.Values{})' ./pkg/emailtemplate
mutant retry-after-ignored pkg/jobs/runner.go '			if errors.As(err, &ra) && ra.wait > 0 {' '			if errors.As(err, &ra) && ra.wait < 0 {' ./pkg/jobs ./pkg/aidraft
mutant model-html-unsanitized pkg/aidraft/aidraft.go 'd.Body = policy.Clean(d.Body)' '_ = policy.Clean(d.Body)' ./pkg/aidraft
mutant ai-request-in-any-workspace pkg/aidraft/aidraft.go '`id = ? AND workspace_id = ? AND user_id = ?`' '`id = ? AND ? <> '"''"' AND user_id = ?`' ./pkg/aidraft ./pkg/web

# The outbox.
mutant reconcile-resends-what-was-sent pkg/outbox/outbox.go "q, args = \`UPDATE outbox SET state = 'sent', provider_ref = ?, sent_at = ?," "q, args = \`UPDATE outbox SET state = 'queued', provider_ref = ?, due_at = ?," ./pkg/sender
mutant outcome-unfenced pkg/outbox/outbox.go "WHERE id = ? AND attempt_id = ? AND state = 'claimed'\`)" "WHERE id = ? AND (attempt_id = ? OR 1)\`)" ./pkg/sender
mutant timeout-counts-as-retry pkg/mailer/mailgun.go '	return unknown(fmt.Errorf("%s: %w", who, err))' '	return retrying(fmt.Errorf("%s: %w", who, err))' ./pkg/sender
echo "BENCH mutants_caught $caught of $total"
exit $failed
