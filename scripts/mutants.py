"""Mutation testing: named one-line bugs that the tests must catch, one at a time, in a scratch copy.

    .venv/bin/python scripts/mutants.py                      # every mutation
    .venv/bin/python scripts/mutants.py --only NAME [NAME...]
    .venv/bin/python scripts/mutants.py --list               # names, guarantees, files, tests
    .venv/bin/python scripts/mutants.py --check              # stale entries only (no tests run)
    .venv/bin/python scripts/mutants.py --out bench/mutants.md

Each entry names the guarantee it breaks, the file, an exact source fragment (present exactly once:
otherwise the entry is *stale* and reported as such), its replacement, and the test node ids that
must go red.  The tracked and untracked (not ignored) files are copied to ``<scratch>/voxfarm``,
which is imported as ``voxfarm`` through ``PYTHONPATH=<scratch>`` (ahead of the editable install's
finder), so the working tree is never touched.  A sanity pass first runs the chosen tests on the
unmutated copy: a mutation whose tests are already red there is reported "baseline red", never
"caught".  Then, per mutation: apply it, run ``pytest -x -q`` on its tests (with a timeout), restore
the file.  Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "voxfarm"  # the scratch copy's directory name: the name the tests import
DEFAULT_TIMEOUT_S = 600  # the Dia loop tests load a model: 2-5 min on a loaded 2-core box


@dataclass(frozen=True)
class Mutation:
    name: str
    guarantee: str
    file: str  # relative to the repository root
    old: str  # exact source fragment, present exactly once in ``file``
    new: str
    tests: tuple[str, ...]  # pytest node ids (or files) of which at least one must fail


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # caught | survived | timeout | stale | baseline red
    caught_by: str | None = None
    wall_s: float = 0.0  # the pytest process, start to exit
    test_s: float | None = None  # what pytest reports ("... in 2.31s")
    detail: str = ""

    @property
    def killed(self) -> bool:
        return self.status in ("caught", "timeout")


def M(name: str, guarantee: str, file: str, old: str, new: str, *tests: str) -> Mutation:  # noqa: N802
    return Mutation(name, guarantee, file, old, new, tuple(tests))


# -- the list ------------------------------------------------------------------------------------
T_LEASES = "tests/core/render/test_leases.py"
T_ATTEMPTS = "tests/core/render/test_attempts.py"
T_RECONCILE = "tests/core/upkeep/test_reconcile.py"
T_DELIVERY = "tests/webhooks/test_delivery.py"
T_NETGUARD = "tests/core/test_netguard.py"
T_STITCH = "tests/core/audio/test_stitch.py"
T_FORMATS = "tests/core/audio/test_formats.py"
T_DISPATCH = "tests/core/jobs/test_dispatch.py"
T_BATCHER = "tests/worker/test_batcher.py"
T_IDEM = "tests/core/jobs/test_idempotency.py"
T_ISOLATION = "tests/api/test_isolation.py"

MUTATIONS: list[Mutation] = [
    # leases: compare-and-set claims, attempts, poison, hand-back
    M("claim_allows_one_attempt_too_many", "leases: a chunk that keeps killing workers fails after max_attempts",
      "core/render/leases.py", "Chunk.attempts - refund < max_attempts", "Chunk.attempts - refund <= max_attempts",
      f"{T_LEASES}::test_a_chunk_that_keeps_dying_poisons_its_job[sqlite]"),
    M("claim_steals_live_lease", "leases: only an expired lease is taken over",
      "core/render/leases.py", "(Chunk.status == ChunkStatus.running) & (Chunk.lease_expires_at < now))",
      "(Chunk.status == ChunkStatus.running) & (Chunk.lease_expires_at > now))",
      f"{T_LEASES}::test_only_one_of_two_claims_wins[sqlite]",
      f"{T_LEASES}::test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_complete[sqlite]"),
    M("complete_without_lease_owner", "leases: a worker that lost its lease cannot complete the chunk",
      "core/render/leases.py", "where=[Chunk.lease_owner == worker], lease_owner=None, lease_expires_at=None,",
      "lease_owner=None, lease_expires_at=None,",
      f"{T_LEASES}::test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_complete[sqlite]"),
    M("handback_spends_an_attempt", "leases: a shutdown hand-back or an infrastructure error costs no attempt",
      "core/render/leases.py", "    if not count_attempt:\n", "    if count_attempt:\n",
      f"{T_LEASES}::test_handback_does_not_count_an_attempt[sqlite]"),
    M("buffered_death_not_refunded", "leases: a worker death costs an attempt only to chunks on the engine",
      "core/render/leases.py", "Chunk.engine_at.is_(None), 1), else_=0)", "Chunk.engine_at.is_not(None), 1), else_=0)",
      f"{T_ATTEMPTS}::test_a_death_costs_an_attempt_only_to_chunks_on_the_engine[sqlite]"),
    M("restart_refunds_engine_chunks", "leases: a restarted worker refunds only what its predecessor buffered",
      "core/state/lifecycle.py", "attempts=Chunk.attempts - case((Chunk.engine_at.is_(None), 1), else_=0),",
      "attempts=Chunk.attempts - 1,",
      f"{T_ATTEMPTS}::test_a_restarted_worker_refunds_what_its_predecessor_only_buffered[sqlite]"),
    # reconciler
    M("reconcile_resends_whole_backlog", "reconciler: re-sends only as many pending chunks as the queue lacks",
      "core/upkeep/reconcile.py", "missing = max(0, pending - depth)", "missing = pending",
      f"{T_RECONCILE}::test_reconcile_does_not_duplicate_a_healthy_backlog[sqlite]"),
    M("reconcile_counts_one_lane", "reconciler: both lanes' queue depths count",
      "core/upkeep/reconcile.py", "depth = sum(depths)", "depth = depths[0]",
      f"{T_RECONCILE}::test_reconcile_does_not_duplicate_a_healthy_backlog[sqlite]"),
    M("reconcile_skips_expired_leases", "reconciler: chunks whose lease expired are re-sent",
      "core/upkeep/reconcile.py", ".where(Chunk.status == ChunkStatus.running, Chunk.lease_expires_at < now,",
      ".where(Chunk.status == ChunkStatus.running, Chunk.lease_expires_at > now,",
      f"{T_RECONCILE}::test_reconcile_resends_expired_leases_and_stale_pending_chunks[sqlite]"),
    M("reconcile_misses_orphaned_finalizer", "reconciler: a job whose chunks are all done gets a finalizer",
      "core/upkeep/reconcile.py", "Job.progress_done >= Job.progress_total,", "Job.progress_done > Job.progress_total,",
      f"{T_RECONCILE}::test_reconcile_requeues_a_finalizer_that_died[sqlite]"),
    M("reconcile_resends_webhooks_without_grace", "reconciler: a short webhook retry is re-sent only after the grace",
      "core/upkeep/reconcile.py", "(WebhookEvent.next_attempt_at <= grace) & (WebhookEvent.enqueued_at <= grace)",
      "WebhookEvent.enqueued_at <= now",
      "tests/core/upkeep/test_reconcile_webhooks.py::test_a_lost_short_retry_is_resent_after_the_grace[sqlite]"),
    # nothing accepted is lost: outbox, failure accounting, storage sweep
    M("outbox_relays_published_rows", "reconciler: the outbox relays unpublished rows, each once",
      "core/state/outbox.py", ".where(Outbox.published_at.is_(None))", ".where(Outbox.id.is_not(None))",
      f"{T_RECONCILE}::test_unit_of_work_publishes_after_commit_and_keeps_rows_when_broker_is_down[sqlite]"),
    M("success_keeps_outage_clock", "leases: any completed chunk restarts a job's infrastructure-outage clock",
      "core/render/leases.py", '"infra_failing_since": None,', '"infra_failing_since": Job.infra_failing_since,',
      "tests/worker/test_failure_accounting.py::test_a_success_restarts_the_outage_clock"),
    M("sweep_ignores_grace", "reconciler: the storage sweep never judges ids younger than the grace",
      "core/upkeep/sweep.py", "old = [i for i in ids if created_ms(i) < cutoff]", "old = ids",
      "tests/core/upkeep/test_sweep.py::test_within_the_grace_period_nothing_is_removed"),
    # webhooks: signing, schedule, delivery, SSRF
    M("signing_drops_rotated_secret", "webhooks: during a rotation both secrets sign",
      "webhooks/signing.py", "for secret in secrets)", "for secret in secrets[:1])",
      f"{T_DELIVERY}::test_rotation_signs_with_both_secrets_during_grace"),
    M("rotation_grace_never_ends", "webhooks: the old secret stops signing after the grace period",
      "webhooks/manage.py", "tenant.webhook_secret_prev_until and tenant.webhook_secret_prev_until > now:",
      "tenant.webhook_secret_prev_until:",
      f"{T_DELIVERY}::test_the_old_secret_stops_signing_after_the_grace_period"),
    M("schedule_off_by_one", "webhooks: after attempt n the next waits schedule[n] (0, 5 s, 5 min, ...)",
      "webhooks/schedule.py", "base = schedule[attempt]", "base = schedule[attempt - 1]",
      "tests/webhooks/test_schedule.py"),
    M("retry_after_ignored", "webhooks: Retry-After is honoured",
      "webhooks/delivery.py", "delay = max(delay, wait_hint)", "delay = min(delay, wait_hint)",
      f"{T_DELIVERY}::test_retry_after_is_honoured"),
    M("redirect_counts_as_delivered", "webhooks: 3xx is never followed nor taken for a delivery",
      "webhooks/delivery.py", "if status is not None and 200 <= status < 300:",
      "if status is not None and 200 <= status < 400:",
      f"{T_DELIVERY}::test_redirect_is_not_followed"),
    M("gone_does_not_disable", "webhooks: 410 disables the endpoint",
      "webhooks/delivery.py", "elif status == 410:", "elif status == 404:",
      f"{T_DELIVERY}::test_410_disables_the_endpoint"),
    M("delivery_claim_not_cas", "webhooks: a duplicate message finds nothing due (one attempt at a time)",
      "webhooks/delivery.py", "WebhookEvent.next_attempt_at <= now)", "WebhookEvent.next_attempt_at.is_not(None))",
      f"{T_DELIVERY}::test_an_attempt_cut_short_is_recorded_as_interrupted"),
    M("job_webhook_filter_ignored", "webhooks: an event a job's webhook filters out is sent nowhere",
      "core/state/events.py", 'wanted = job.webhook.get("events") or (*TERMINAL_EVENTS, "job.progress")',
      'wanted = (*TERMINAL_EVENTS, "job.progress")',
      "tests/core/state/test_events.py::test_events_the_job_filters_out_go_nowhere[sqlite]"),
    M("ssrf_connects_to_the_name", "SSRF: connect to the checked address (no DNS rebinding)",
      "core/netguard.py", "pool = urllib3.HTTPConnectionPool(target.ip, target.port,",
      "pool = urllib3.HTTPConnectionPool(target.host, target.port,",
      f"{T_NETGUARD}::test_dns_rebinding_never_reaches_the_second_answer"),
    M("ssrf_localhost_name_allowed", "SSRF: URLs naming localhost are refused at submit",
      "core/netguard.py", 'if host == "localhost" or host.endswith(".localhost"):', 'if host.endswith(".localhost"):',
      f"{T_NETGUARD}::test_internal_literals_are_refused_at_submit_and_at_connect"),
    M("ssrf_v4_compatible_prefix", "SSRF: IPv6 forms that embed IPv4 are refused in any spelling",
      "core/netguard.py", '_V4_COMPATIBLE = ipaddress.ip_network("::/96")',
      '_V4_COMPATIBLE = ipaddress.ip_network("::/128")',
      f"{T_NETGUARD}::test_teredo_and_ipv4_compatible_addresses_are_refused"),
    # stitching and mastering
    M("stitch_paragraph_pause_is_sentence", "stitching: pauses after sentences, paragraphs and chapters",
      "core/audio/stitch.py", '"paragraph": self.paragraph_ms,', '"paragraph": self.sentence_ms,',
      f"{T_STITCH}::test_assemble_pauses_and_chapter_offsets"),
    M("stitch_crossfade_overwrites", "stitching: where no pause separates chunks they crossfade (tail + head)",
      "core/audio/stitch.py", "audio[: carry.size] += carry", "audio[: carry.size] = carry",
      f"{T_STITCH}::test_a_crossfade_adds_the_faded_tail_onto_the_next_head"),
    M("stitch_chapter_starts_late", "stitching: chapter marks start where the chapter's audio starts",
      "core/audio/stitch.py", "out.chapter_starts.append(out.samples)",
      "out.chapter_starts.append(out.samples + int(sample_rate * pauses.chapter_ms / 1000))",
      f"{T_STITCH}::test_assemble_pauses_and_chapter_offsets"),
    M("cue_sheet_100_frames", "stitching: the .cue sheet's times (mm:ss:ff at 75 frames/s)",
      "core/audio/stitch.py", "frames = int(round(start * 75))", "frames = int(round(start * 100))",
      f"{T_STITCH}::test_cue_sheet_times"),
    M("mastering_gain_wrong_sign", "mastering: a file over the true-peak ceiling is re-encoded lower",
      "core/audio/mastering.py", "gain -= peak - ceiling_db + MARGIN_DB", "gain += peak - ceiling_db + MARGIN_DB",
      "tests/core/render/test_finalize.py::test_the_ceiling_holds_by_measurement_alone"),
    M("formats_rate_ignores_request", "formats: output.sample_rate is the rate written (nearest the codec has)",
      "core/audio/formats.py", "rate = requested or codec.default_rate or engine_rate",
      "rate = codec.default_rate or requested or engine_rate",
      f"{T_FORMATS}::test_rates_follow_each_codec"),
    M("formats_volume_only_louder", "formats: volume is a linear gain",
      "core/audio/formats.py", "    if volume != 1.0:\n", "    if volume > 1.0:\n",
      f"{T_FORMATS}::test_volume_and_tempo_are_applied"),
    M("formats_speed_clamp_swapped", "formats: speed goes through the engine's rate within its bounds",
      "core/audio/formats.py", "value = min(high, max(low, wanted))", "value = max(high, min(low, wanted))",
      f"{T_FORMATS}::test_speed_goes_through_the_engine_where_it_can"),
    # fairness
    M("dispatch_most_served_first", "fairness: a released chunk goes to the least-served waiting tenant",
      "core/jobs/dispatch.py", "tenant = min(open_, key=lambda t: (load[t], t))",
      "tenant = max(open_, key=lambda t: (load[t], t))",
      f"{T_DISPATCH}::test_the_least_served_tenant_and_the_highest_priority_go_first[sqlite]"),
    M("dispatch_priority_inverted", "fairness: within a tenant the highest priority goes first",
      "core/jobs/dispatch.py", ".order_by(Job.priority.desc(), Job.created_at, Job.id, Chunk.idx))",
      ".order_by(Job.priority, Job.created_at, Job.id, Chunk.idx))",
      f"{T_DISPATCH}::test_the_least_served_tenant_and_the_highest_priority_go_first[sqlite]"),
    M("dispatch_window_ignores_in_flight", "fairness: at most a window of a tenant's chunks sits in the broker",
      "core/jobs/dispatch.py", "room = max(0, window - _in_flight(session, engine, tenant_id).get(tenant_id, 0))",
      "room = max(0, window)",
      f"{T_DISPATCH}::test_a_window_is_published_and_the_rest_held[sqlite]"),
    # speaker gate
    M("speaker_margin_added", "speaker gate: threshold = the voice's split-half similarity minus the margin",
      "core/voices/speaker.py", "return base - settings.speaker_margin", "return base + settings.speaker_margin",
      "tests/core/voices/test_speaker.py"),
    M("speaker_gate_keeps_least_similar", "speaker gate: out of retries the most similar take is kept",
      "core/render/takes.py", "> best[0]:", "< best[0]:",
      "tests/core/render/test_takes.py"),
    M("speaker_gate_flagged_seed_of_first_take", "speaker gate: the kept take's seed is recorded",
      "core/render/takes.py", "return Kept(take, take_seed(seed, job_seed, text, n),", "return Kept(take, seed,",
      "tests/core/render/test_takes.py"),
    # continuous batching
    M("batcher_anchor_newest", "batching: the oldest request anchors its batch (no starvation)",
      "worker/batcher.py", "anchor = next((p for p in buffer if is_urgent(p.request)), buffer[0])",
      "anchor = next((p for p in buffer if is_urgent(p.request)), buffer[-1])",
      f"{T_BATCHER}::test_select_keeps_the_oldest_and_groups_by_key_and_length"),
    M("batcher_mixes_groups", "batching: incompatible requests never share a batch",
      "worker/batcher.py", "peers = [p for p in buffer if p is not anchor and group_key(p.request) == key]",
      "peers = [p for p in buffer if p is not anchor]",
      f"{T_BATCHER}::test_incompatible_requests_never_share_a_batch"),
    M("batcher_bulk_starves", "batching: a bulk request passed over max_bulk_skips times is anchored anyway",
      "worker/batcher.py", "starved = self._skipped is oldest and self._skips >= self.max_bulk_skips",
      "starved = self._skipped is oldest and self._skips > self.max_bulk_skips",
      f"{T_BATCHER}::test_urgent_requests_overtake_a_bulk_backlog_without_starving_it"),
    M("continuous_positions_off_by_one", "continuous batching: a slot's item renders as generate renders it",
      "worker/engines/dia_continuous.py", "positions[[s, n + s], 0] = job.prompt_len + job.step - 1",
      "positions[[s, n + s], 0] = job.prompt_len + job.step",
      "tests/worker/test_dia_continuous.py::test_the_loop_renders_what_generate_renders"),
    M("continuous_cfg_unconditional_row_conditioned", "continuous batching: the CFG pair's unconditional row",
      "worker/engines/dia_continuous.py", "text = torch.cat([ids, torch.zeros_like(ids)])",
      "text = torch.cat([ids, ids])",
      "tests/worker/test_dia_continuous.py::test_the_loop_renders_what_generate_renders"),
    # voices
    M("voice_lookup_keeps_deleted", "voices: a deleted voice is gone (404) and its queued jobs fail",
      "core/voices/registry.py",
      "Voice.id == ref, Voice.tenant_id == tenant_id,\n                                                   "
      "Voice.deleted_at.is_(None)))",
      "Voice.id == ref, Voice.tenant_id == tenant_id))",
      "tests/api/test_voices.py::test_list_paginates_and_delete_removes_objects"),
    M("voice_names_global", "voices: names are unique per tenant, not across tenants",
      "core/voices/registry.py", "select(Voice).where(Voice.tenant_id == tenant_id, Voice.name == name,",
      "select(Voice).where(Voice.name == name,",
      "tests/api/test_voices.py::test_a_voice_is_usable_by_its_name"),
    M("oneshot_prompt_shared_across_tenants", "voices: one-shot prompts are content-addressed per tenant",
      "core/voices/registry.py", "Voice.tenant_id == tenant_id, Voice.sha256 == sha256,", "Voice.sha256 == sha256,",
      "tests/core/jobs/test_voice.py::test_one_shot_prompts_are_content_addressed_per_tenant[sqlite]"),
    M("sweep_retires_live_prompt", "voices: the sweep never retires a prompt an unfinished job uses",
      "core/jobs/voice.py", "(Job.updated_at > cutoff) | Job.status.in_(",
      "(Job.updated_at > cutoff) & Job.status.in_(",
      "tests/core/jobs/test_voice.py::test_sweep_retires_one_shot_prompts_after_their_jobs[sqlite]"),
    M("dialogue_transcript_untagged", "voices: a dialogue's joined transcript is re-tagged per speaker",
      "core/jobs/voice.py", 'lines.append(f"[{tag}] {TAG_RE.sub(\' \', voice.transcript).strip()}")',
      "lines.append(TAG_RE.sub(' ', voice.transcript).strip())",
      "tests/core/jobs/test_voice.py::test_a_dialogue_prompt_joins_the_speakers_in_tag_order[sqlite]"),
    # usage
    M("usage_counts_unfinished_chunks", "usage: only rendered (done) chunks count",
      "core/tenants/usage.py", "where = [Chunk.tenant_id == tenant_id, Chunk.status == ChunkStatus.done]",
      "where = [Chunk.tenant_id == tenant_id]", "tests/core/tenants/test_usage.py"),
    M("usage_window_end_inclusive", "usage: a chunk counts in the window containing finished_at (to is exclusive)",
      "core/tenants/usage.py", "Chunk.finished_at < query.to", "Chunk.finished_at <= query.to",
      "tests/core/tenants/test_usage.py"),
    M("usage_all_tenants", "tenant isolation: usage reports the caller's chunks only",
      "core/tenants/usage.py", "where = [Chunk.tenant_id == tenant_id, Chunk.status == ChunkStatus.done]",
      "where = [Chunk.status == ChunkStatus.done]", "tests/core/tenants/test_usage.py"),
    M("usage_engine_time_split_evenly", "usage: a batch's engine time is split in proportion to audio",
      "worker/producing.py", "r.engine_s = seconds * (n / total if total else 1 / len(results))",
      "r.engine_s = seconds / len(results)", "tests/worker/test_usage_attribution.py"),
    # tenant isolation
    M("get_job_any_tenant", "tenant isolation: another tenant's job id is a 404",
      "core/jobs/intake.py", "job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id))",
      "job = session.scalar(select(Job).where(Job.id == job_id))",
      f"{T_ISOLATION}::test_every_route_is_tenant_scoped"),
    M("list_jobs_all_tenants", "tenant isolation: lists show the caller's objects only",
      "core/jobs/intake.py", "q = select(Job).where(Job.tenant_id == tenant_id)", "q = select(Job)",
      f"{T_ISOLATION}::test_lists_only_show_the_callers_objects"),
    M("redeliver_any_tenant", "tenant isolation: another tenant's delivery id is a 404",
      "webhooks/manage.py", "WebhookEvent.tenant_id == tenant_id))", "WebhookEvent.tenant_id.is_not(None)))",
      f"{T_ISOLATION}::test_every_route_is_tenant_scoped"),
    # idempotency
    M("idempotency_ignores_request_body", "idempotency: the same key with another request is a 422",
      "core/jobs/idempotency.py", "if row.request_hash != request_hash:", "if row.request_hash is None:",
      f"{T_IDEM}::test_replay_conflict_and_mismatch[sqlite]"),
    M("idempotency_in_progress_taken_over", "idempotency: a duplicate while the first runs is a 409",
      "core/jobs/idempotency.py", "if now - row.created_at < timedelta(seconds=STALE_S):",
      "if now - row.created_at > timedelta(seconds=STALE_S):",
      f"{T_IDEM}::test_replay_conflict_and_mismatch[sqlite]"),
    M("idempotency_abandon_forgets_response", "idempotency: abandoning never forgets a completed response",
      "core/jobs/idempotency.py", "IdempotencyKey.completed.is_(False)))", "IdempotencyKey.completed.is_not(None)))",
      f"{T_IDEM}::test_abandoning_never_forgets_a_completed_response[sqlite]"),
    # lifecycle
    M("lifecycle_terminal_jobs_move", "lifecycle: terminal states are final (compare-and-set on legal sources)",
      "core/state/lifecycle.py", "    legal = set(sources(transitions, to))\n", "    legal = set(transitions)\n",
      "tests/core/state/test_lifecycle.py"),
    M("lifecycle_finished_at_unset", "lifecycle: a job that ends records when",
      "core/state/lifecycle.py", 'values.setdefault("finished_at", utcnow())\n    return _cas(',
      'values.setdefault("started_at", utcnow())\n    return _cas(', "tests/core/state/test_lifecycle.py"),
    M("cancel_leaves_chunks_pending", "lifecycle: canceling a job stops its chunks",
      "core/jobs/intake.py", "allowed_from=(ChunkStatus.pending, ChunkStatus.running), lease_owner=None)",
      "allowed_from=(ChunkStatus.pending,), lease_owner=None)",
      f"{T_LEASES}::test_cancel_during_render_drops_the_result[sqlite]"),
    # issue #26: the ten known bugs that once survived, and the tests of 439ff40 that catch them
    M("zipvoice_prompts_crossed", "zipvoice: each item of an equal-length decoder group keeps its own voice prompt",
      "worker/engines/zipvoice_render.py", "np.stack([it.speech_cond for it in items])",
      "np.stack([it.speech_cond for it in items[::-1]])",
      "tests/worker/test_zipvoice.py::test_items_of_one_decoder_group_keep_their_own_voices"),
    M("cache_key_without_voice", "cache: the voice is part of every chunk's cache key",
      "core/jobs/planning.py", '"model": model, "voice": voice_sha256, "text": text,', '"model": model, "text": text,',
      "tests/core/jobs/test_planning.py::test_every_input_of_the_audio_is_in_the_key",
      "tests/core/jobs/test_planning.py::test_jobs_differing_only_in_voice_share_no_chunk_audio"),
    M("lossless_books_skip_loudness", "stitch: every book format (wav and flac too) is loudness-normalized",
      "core/render/finalize.py",
      "measured = measure_loudness(raw.path, settings.loudness_target_lufs, ceiling - HEADROOM_DB)",
      'measured = measure_loudness(raw.path, settings.loudness_target_lufs, ceiling - HEADROOM_DB) '
      'if work.fmt not in ("wav", "flac") else {"input_i": -70.0}',
      "tests/core/render/test_finalize.py::test_the_book_is_loudness_normalized_to_the_target"),
    M("manifest_pager_drops_an_item", "batches: the manifest lists every item once, at any page size",
      "core/batches/intake.py", "start = rows[-1].batch_index", "start = rows[-1].batch_index + 1",
      "tests/core/batches/test_manifest.py::test_the_manifest_lists_every_item_once_at_any_page_size"),
    M("multipart_idempotency_ignores_file", "idempotency: a multipart replay with another file is a mismatch",
      "api/idempotency.py", "parts += [key, hashlib.sha256(data).hexdigest()]", "parts += [key]",
      "tests/api/test_voices.py::test_an_idempotent_upload_with_another_file_is_a_mismatch"),
    M("speech_resolves_other_tenants_voice", "isolation: a voice name resolves only within the caller's tenant",
      "core/speech/requests.py", "q = select(Voice.id).where(Voice.tenant_id == tenant_id, Voice.deleted_at.is_(None))",
      "q = select(Voice.id).where(Voice.deleted_at.is_(None))",
      "tests/core/speech/test_requests.py::test_another_tenants_voice_name_is_answered_as_an_unknown_name"),
    M("worker_ignores_priority", "worker: an interactive chunk leads the next batch past a bulk backlog",
      "worker/producing.py", "urgent=is_interactive(work.priority, self.settings))", ")",
      "tests/worker/test_runtime.py::test_an_interactive_chunk_leads_the_next_batch_past_a_bulk_backlog"),
    M("speech_content_type_fixed", "speech: each response_format streams under its own Content-Type",
      "api/views/speech.py", "resp = Response(audio, mimetype=formats.codec_for(spec.fmt).content_type)",
      'resp = Response(audio, mimetype="audio/mpeg")',
      "tests/api/test_speech_api.py::test_each_response_format_streams_under_its_own_content_type"),
    M("publish_before_commit", "outbox: a message goes to the broker only after the state it announces is committed",
      "core/state/outbox.py", "            self._tx.commit()\n            self.ids = [r.id for r in rows]\n",
      "            if self.publisher is not None and rows:\n"
      "                self.publisher.publish_many([(r.task, list(r.args), r.queue) for r in rows])\n"
      "            self._tx.commit()\n            self.ids = []\n",
      "tests/core/state/test_outbox.py::test_messages_are_published_after_the_commit"),
    M("release_without_outbox_row", "dispatch: every released chunk gets exactly one outbox row on its lane",
      "core/jobs/dispatch.py", "outbox.add_many(session, [(outbox.RENDER_TASK, [cid],",
      "outbox.add_many(session, [] and [(outbox.RENDER_TASK, [cid],",
      f"{T_DISPATCH}::test_a_released_chunk_gets_exactly_one_outbox_row_on_its_lane"),
    # weak test strengthened in 439ff40
    M("results_reversed_in_batch", "worker: each chunk of a shared batch gets its own audio",
      "worker/runtime.py",
      "return timed_results(self.engine, [it.request for it in items], self.engine_name, self.name)",
      "return list(timed_results(self.engine, [it.request for it in items], self.engine_name, self.name))[::-1]",
      "tests/worker/test_runtime.py::test_each_chunk_of_a_shared_batch_gets_its_own_audio"),
    # console (#33)
    M("rerender_rechooses_every_other_chunk", "re-render: only the chosen chunk gets a new seed; every other chunk is a cache hit",
      "core/jobs/rerender.py", "if c.idx == req.chunk or", "if c.idx != req.chunk or",
      "tests/api/test_rerender.py::test_a_rerendered_chunk_renders_alone_and_the_job_is_stitched_again"),
    M("console_text_as_html", "console: all user text enters the page as text nodes (a job titled <script> renders as text)",
      "api/static/console/ui.js",
      "el.append(child instanceof Node ? child : document.createTextNode(String(child)));",
      'if (child instanceof Node) el.append(child); else el.insertAdjacentHTML("beforeend", String(child));',
      "tests/browser/test_console.py"),
    M("console_key_in_session_storage", "console: the API key is held in a JavaScript variable only",
      "api/static/console/api.js", "export function signIn(value) { key = value; }",
      'export function signIn(value) { key = value; sessionStorage.setItem("voxfarm-key", value); }',
      "tests/browser/test_console.py"),
    M("console_control_unlabelled", "console: every form control has a label (axe-core: no serious or critical violation)",
      "api/static/console/ui.js", 'const parts = [h("label", { for: control.id }, label), control];',
      'const parts = [h("span", {}, label), control];',
      "tests/browser/test_console.py"),
    M("console_tables_overflow_at_360", "console: pages fit 360 px without horizontal scrolling",
      "api/static/console/console.css", ".table-wrap { overflow-x: auto; max-width: 100%; }",
      ".table-wrap { max-width: none; }",
      "tests/browser/test_console.py"),
    # delivery: covers, room tone
    M("cover_size_unchecked", "covers: an unreadable or oversized cover is dropped with a warning",
      "core/text/cover.py", "    return found if 0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE else None",
      "    return found",
      "tests/core/text/test_cover.py::test_unreadable_covers_are_dropped_with_a_warning"),
    M("cover_rejected_costs_the_book", "covers: a cover ffmpeg cannot take never costs the book",
      "core/audio/stitch.py",
      "        except RuntimeError:  # a cover ffmpeg cannot take never costs the book: deliver it without one",
      "        except ValueError:  # a cover ffmpeg cannot take never costs the book: deliver it without one",
      "tests/core/text/test_cover.py::test_encode_falls_back_to_no_cover_when_ffmpeg_rejects_it"),
    M("roomtone_bed_missing", "acx: room tone is laid under the body so a compliant file passes every check",
      "core/audio/roomtone.py", "    return body + bed(len(body), seed, level_db)", "    return body",
      "tests/core/render/test_acx.py::test_a_compliant_file_passes_every_check"),
    # kokoro from the registry (#32)
    M("kokoro_bundle_unverified_assembly", "kokoro: the assembled model is checked against the pinned sha256",
      "core/engines/kokoro_bundle.py", "if written != size or digest.hexdigest() != sha256:", "if written != size:",
      "tests/core/engines/test_kokoro_bundle.py::test_parts_that_do_not_add_up_are_refused_leaving_nothing"),
    M("kokoro_bundle_trusts_cache_size", "kokoro: a corrupt model cache (same size, wrong bytes) is rebuilt",
      "core/engines/kokoro_bundle.py",
      "return path.is_file() and path.stat().st_size == size and file_sha256(path) == sha256",
      "return path.is_file() and path.stat().st_size == size",
      "tests/core/engines/test_kokoro_bundle.py::test_a_corrupt_cache_is_rebuilt"),
    M("lang_code_ignored_with_a_voice", "kokoro: lang_code picks the phonemiser apart from the voice",
      "core/engines/languages.py", "    if given in KOKORO_LANGUAGES:\n        return given",
      '    if given in KOKORO_LANGUAGES and not params.get("voice"):\n        return given',
      "tests/core/engines/test_languages.py::test_lang_code_is_given_or_the_voices_first_letter"),
    M("japanese_packed_with_spaces", "text: Japanese sentences are packed without spaces",
      "core/text/chunking.py", 'joiner, split = ("", _split_unspaced) if unspaced else (" ", _split_long)',
      'joiner, split = (" ", _split_unspaced) if unspaced else (" ", _split_long)',
      "tests/core/text/test_chunking_ja.py::test_sentences_end_at_japanese_marks_and_pack_without_spaces"),
    M("models_pull_skips_pinned_hash", "models: a pulled file whose sha256 is not the pinned one is refused",
      "cli/models.py", "if (item.sha256 and digest != item.sha256) or", "if (item.sha256 and digest == '') or",
      "tests/cli/test_models.py::test_a_hash_mismatch_is_refused_and_a_second_pull_fetches_only_the_rest"),
    # what a new user hits (#30)
    M("up_children_outlive_it", "up: a kill -9 of `voxfarm up` takes its worker and API with it",
      "cli/up.py", "ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)",
      "ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 0)",
      "tests/cli/test_up.py::test_kill_9_of_up_takes_its_worker_and_api_with_it"),
    M("up_ignores_a_taken_port", "up: a port in use is named before anything starts",
      "cli/up.py", "    if port_in_use(host, port):", "    if False and port_in_use(host, port):",
      "tests/cli/test_up.py::test_a_taken_port_is_named_before_anything_starts"),
    M("hand_back_warns_per_message", "worker: a warm shutdown logs the hand-back as one INFO line",
      "worker/app.py", "return render.HAND_BACK not in str(", "return True or render.HAND_BACK not in str(",
      "tests/cli/test_up.py::test_ctrl_c_mid_job_finishes_the_batch_and_hands_back_quietly"),
    M("test_engines_listed", "answers: sim and tone stay out of error messages unless the farm serves them",
      "core/engines/registry.py", "if not spec.for_tests or name in served)", "if True or name in served)",
      "tests/api/test_answers.py::test_test_engines_are_not_offered_unless_served"),
    M("malformed_id_werkzeug_404", "answers: a malformed job id answers like a well-formed missing one",
      "api/errors.py", "            message = _no_route(request.method, request.path)",
      "            message = exc.description or exc.name",
      "tests/api/test_answers.py::test_a_malformed_id_is_the_same_404_as_a_missing_one"),
    M("dry_run_seed_differs", "batch: `voxfarm batch --dry-run` prints the seed the run uses",
      "cli/batch.py", "batch_config.derived_seed(first.digest, first.output_dir)", 'int.from_bytes(os.urandom(3), "big")',
      "tests/cli/test_batch.py::test_dry_run_shows_the_seed_the_run_uses"),
    M("voices_bare_object_in_contract", "contract: the OpenAPI document says what voices' keys may be",
      "api/contract.py", '    if "voices" in props:', "    if False:",
      "tests/api/test_contract.py::test_every_request_object_says_what_its_keys_may_be"),
    M("onnx_arena_keeps_its_peak", "memory: an ONNX worker's memory stays flat across input lengths",
      "worker/engines/onnx_session.py", "return super().run(output_names, input_feed, run_options or _shrinking())",
      "return super().run(output_names, input_feed, run_options)",
      "tests/worker/test_piper.py::test_memory_stays_flat_across_input_lengths"),
    # read-back (#27)
    M("readback_gate_ignored", "read-back: a take that fails read-back is re-rendered with a new seed",
      "core/render/takes.py", "words_ok = heard is None or heard.passed", "words_ok = True",
      "tests/core/render/test_readback.py::test_the_take_loop_rerenders_a_take_that_misses_words_and_keeps_the_best",
      "tests/worker/test_readback.py::test_a_take_missing_its_last_words_is_rendered_again_with_a_new_seed"),
    M("readback_lost_ending_passes", "read-back: a take missing its last words fails, however low its WER",
      "core/render/readback.py",
      'ok = (wer <= max_wer or errors < 2) and len(missing["end"]) <= max_missing_end',
      "ok = wer <= max_wer or errors < 2",
      "tests/core/render/test_readback.py::test_missing_words_are_placed_and_a_lost_ending_fails_however_low_the_wer"),
    M("readback_skip_is_silent", "read-back: a worker without a recogniser marks the chunks skipped",
      "worker/producing.py",
      "hear = self.readback.for_chunk(work.text, work.engine, work.params, rate) if self.readback else NO_RECOGNISER",
      "hear = self.readback.for_chunk(work.text, work.engine, work.params, rate) if self.readback else None",
      "tests/worker/test_readback.py::test_a_worker_without_a_recogniser_renders_the_job_and_says_it_was_not_heard"),
    M("timeline_ignores_head_trim", "captions: word times shift by the samples the stitcher trimmed off each head",
      "core/audio/stitch.py", "on_piece(piece, audio, out.samples, head)", "on_piece(piece, audio, out.samples, 0)",
      "tests/core/render/test_timings.py::test_word_times_follow_the_chunk_into_the_stitched_file"),
    M("sentence_cues_not_snapped_to_pauses", "captions: a sentence boundary inside a chunk sits in the pause",
      "core/render/timings.py",
      "bounds = quiet_boundaries(audio, self.rate, list(sizes[:-1] / sizes[-1] * length))",
      "bounds = list(sizes[:-1] / sizes[-1] * length)",
      "tests/core/render/test_timings.py::test_sentence_cues_start_where_the_sentences_sound"),
    M("chapter_captions_not_rebased", "captions: each per-chapter file's captions start from its zero",
      "core/render/timings.py", "part = self.cues(tempo, start, order[i - 1])", "part = self.cues(tempo, 0.0, order[i - 1])",
      "tests/core/render/test_timings.py::test_each_chapter_file_gets_its_own_captions_from_zero"),
    # interactive speed (#31)
    M("item_engines_render_whole_batch", "streaming: an item-by-item engine's results leave one by one",
      "worker/streaming.py", 'if not engine.item_by_item or "generate_batch" in vars(engine):',
      'if True or "generate_batch" in vars(engine):',
      "tests/worker/test_streaming.py::test_the_first_chunk_streams_before_the_last_chunk_of_its_batch_renders"),
    M("interactive_first_chunk_not_leading", "batcher: an interactive request's oldest chunk leads its batch",
      "worker/batcher.py",
      "return sorted(chosen, key=lambda p: (0, p.arrived, 0.0) if is_urgent(p.request) else (1, 0.0, length(p.request)))",
      "return sorted(chosen, key=lambda p: -length(p.request))",
      "tests/worker/test_streaming.py::test_the_first_chunk_streams_before_the_last_chunk_of_its_batch_renders"),
    M("batcher_resolves_at_batch_end", "batcher: item k's future resolves as soon as the engine yields it",
      "worker/batcher.py", "if done < len(items) - 1:  # resolved as soon as it exists",
      "if done < -1:  # resolved as soon as it exists",
      "tests/worker/test_streaming.py::test_a_batch_releases_each_result_as_the_engine_yields_it"),
    # text front end (#28)
    M("regnal_numbers_not_read", "text: Henry VIII is read Henry the Eighth", "core/text/normalize.py",
      'return f"{name} the {_title(num.ordinal(value))}"', "return m.group(0)",
      "tests/core/text/test_normalize.py::test_a_narrator_would_say"),
    M("lexicon_version_in_every_key", "lexicons: an edit re-renders only the chunks a changed rule matched",
      "core/jobs/planning.py", "params=params, seed=seed, lexicon=said.matched),",
      "params=params, seed=seed, lexicon=[(x.id, x.version) for x in front.lexicons] if front else ()),",
      "tests/api/test_lexicons.py::test_editing_one_name_re_renders_only_the_chunks_that_contain_it"),
    M("pls_doctype_accepted", "lexicons: a PLS with a DOCTYPE is refused with 422 and nothing is stored",
      "core/text/pls.py", "    parser.StartDoctypeDeclHandler = refuse\n", "",
      "tests/core/text/test_lexicon.py::test_hostile_or_malformed_pls_is_refused_with_its_line",
      "tests/api/test_lexicons.py::test_hostile_malformed_or_oversized_pls_is_refused_and_nothing_is_stored"),
    M("chapter_titles_not_announced", "text: a long-form job's chapters each begin with their title spoken",
      "core/jobs/planning.py", "front and front.announce and chapter.announce and chapter.title.strip()) else []",
      "False) else []",
      "tests/api/test_jobs.py::test_job_resource_metadata_priority_and_plan"),
    M("worker_renders_source_text", "worker: the engine renders the chunk's spoken text, never its source text",
      "core/render/leases.py", "spoken = chunk.spoken_text if chunk.spoken_text is not None else chunk.text",
      "spoken = chunk.text", "tests/core/render/test_spoken_claims.py"),
]


# -- validation ------------------------------------------------------------------------------------
def test_file(node: str) -> str:
    return node.split("::", 1)[0]


def _defines(text: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", text, re.M) is not None


def problems(mutation: Mutation, root: Path = ROOT) -> list[str]:
    """Why an entry is stale: its fragment is missing or not unique, a test it names does not exist."""
    found = []
    path = root / mutation.file
    if not path.is_file():
        return [f"{mutation.file} does not exist"]
    count = path.read_text(encoding="utf-8").count(mutation.old)
    if count != 1:
        found.append(f"fragment found {count} times in {mutation.file} (must be exactly once)")
    if mutation.old == mutation.new:
        found.append("the replacement equals the fragment")
    if not mutation.tests:
        found.append("no tests named")
    for node in mutation.tests:
        tpath = root / test_file(node)
        parts = node.split("::")[1:]
        if tpath.is_dir() and not parts:  # a whole folder of tests
            continue
        if not tpath.is_file():
            found.append(f"test file {test_file(node)} does not exist")
            continue
        text = tpath.read_text(encoding="utf-8")
        for part in parts:
            if not _defines(text, part.split("[", 1)[0]):
                found.append(f"{node}: no test named {part.split('[', 1)[0]} in {test_file(node)}")
    return found


def check_list(mutations: list[Mutation], root: Path = ROOT) -> dict[str, list[str]]:
    """Every stale entry with its reasons, plus duplicated names."""
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for m in mutations:
        why = problems(m, root)
        if m.name in seen:
            why.append("duplicate name")
        seen.add(m.name)
        if not re.fullmatch(r"[a-z0-9_]+", m.name):
            why.append("names are lower_snake_case")
        if why:
            out[m.name] = why
    return out


# -- the scratch copy ------------------------------------------------------------------------------
def source_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files (never .venv, build outputs, runtime data)."""
    if (root / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout.decode()
        names = sorted({n for n in out.split("\0") if n})
    else:  # a plain folder (the script's own tests)
        skip = {".venv", ".git", "__pycache__", ".pytest_cache", "var", "out", "build"}
        names = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                       if p.is_file() and not skip & set(p.relative_to(root).parts))
    return [n for n in names if (root / n).is_file()]


# tests start `python -m voxfarm` children with PYTHONPATH set to the checkout alone, where the editable
# install's finder maps `voxfarm` back to the working tree: in the scratch copy they keep the scratch
# parent on the path too, so child processes run the mutated code as well
_CHILD_PATH = re.compile(r"""((?:\["PYTHONPATH"\]\s*=|"PYTHONPATH":)\s*)str\(ROOT\)""")


def make_scratch(root: Path, parent: Path) -> Path:
    pkg = parent / PACKAGE
    for name in source_files(root):
        dest = pkg / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, dest)
    extra = f" + {os.pathsep!r} + {str(parent)!r}"
    for path in (pkg / "tests").rglob("*.py") if (pkg / "tests").is_dir() else []:
        text = path.read_text(encoding="utf-8")
        patched = _CHILD_PATH.sub(lambda m: f"{m.group(1)}(str(ROOT){extra})", text)
        if patched != text:
            path.write_text(patched, encoding="utf-8")
    return pkg


def scratch_env(parent: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(parent), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTEST_ADDOPTS", None)
    return env


def check_import(pkg: Path) -> None:
    """The scratch copy, not the working tree, must be what ``import voxfarm`` finds first (the
    editable install still appends the working tree to the namespace's path, behind it)."""
    probe = next((p.parent.name for p in sorted(pkg.glob("*/__init__.py"))), None)
    code = (f"import importlib, json, {PACKAGE}\n"
            f"m = importlib.import_module('{PACKAGE}.{probe}') if {probe!r} else {PACKAGE}\n"
            f"print(json.dumps([str(p) for p in {PACKAGE}.__path__][:1] + [getattr(m, '__file__', None) or '']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=pkg, env=scratch_env(pkg.parent), capture_output=True,
                         text=True, timeout=120)
    try:
        first, probed = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"cannot import {PACKAGE} from the scratch copy: {out.stderr[-800:]}") from None
    if first != str(pkg) or (probe and not probed.startswith(str(pkg) + os.sep)):
        raise SystemExit(f"the scratch copy is not what `import {PACKAGE}` finds: {first}, {probed}")


# -- running ---------------------------------------------------------------------------------------
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.M)
_SECONDS = re.compile(r" in ([0-9.]+)s(?: \([0-9:]+\))?(?: =+)?\s*$", re.M)


@dataclass
class PytestRun:
    returncode: int | None  # None: timed out
    failed: list[str]
    wall_s: float
    test_s: float | None
    output: str


def run_pytest(pkg: Path, nodes: list[str], timeout: float, *, first_failure: bool = True) -> PytestRun:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-x"] if first_failure else []),
           *nodes]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=pkg, env=scratch_env(pkg.parent), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return PytestRun(None, [], time.monotonic() - started, None, out)
    wall = time.monotonic() - started
    output = proc.stdout + proc.stderr
    seconds = _SECONDS.findall(proc.stdout)
    return PytestRun(proc.returncode, _FAILED.findall(proc.stdout), wall,
                     float(seconds[-1]) if seconds else None, output)


def _covers(node: str, failed: str) -> bool:
    return failed == node or failed.startswith((node + "::", node + "["))


def _drop_bytecode(path: Path) -> None:
    for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def run_one(pkg: Path, m: Mutation, timeout: float) -> Outcome:
    why = problems(m, pkg)
    if why:
        return Outcome(m, "stale", detail="; ".join(why))
    path = pkg / m.file
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace(m.old, m.new, 1), encoding="utf-8")
        _drop_bytecode(path)
        run = run_pytest(pkg, list(m.tests), timeout)
    finally:
        path.write_text(original, encoding="utf-8")
        _drop_bytecode(path)
    if run.returncode is None:
        return Outcome(m, "timeout", f"timeout after {timeout:.0f} s", run.wall_s, None)
    if run.returncode == 0:
        return Outcome(m, "survived", None, run.wall_s, run.test_s)
    if run.returncode == 5:
        return Outcome(m, "stale", None, run.wall_s, run.test_s, "pytest collected no tests")
    by = run.failed[0] if run.failed else f"pytest exit {run.returncode} (collection or import error)"
    return Outcome(m, "caught", by, run.wall_s, run.test_s,
                   "" if run.failed else run.output.strip().splitlines()[-1][:200] if run.output.strip() else "")


def baseline(pkg: Path, chosen: list[Mutation], timeout: float) -> tuple[dict[str, str], PytestRun | None]:
    """Run every chosen test once on the unmutated copy; returns {mutation name: why it is red}."""
    nodes = list(dict.fromkeys(n for m in chosen if not problems(m, pkg) for n in m.tests))
    if not nodes:
        return {}, None
    run = run_pytest(pkg, nodes, timeout + 60 * len(nodes), first_failure=False)
    red: dict[str, str] = {}
    for m in chosen:
        if run.returncode is None:
            red[m.name] = "the baseline run timed out"
            continue
        failing = [f for f in run.failed if any(_covers(n, f) for n in m.tests)]
        if failing:
            red[m.name] = f"{failing[0]} fails without the mutation"
        elif run.returncode not in (0, 1) and not run.failed:
            red[m.name] = f"baseline pytest exit {run.returncode}"
    return red, run


# -- reporting -------------------------------------------------------------------------------------
def _label(o: Outcome) -> str:
    if o.status == "caught":
        return o.caught_by or "caught"
    if o.status == "timeout":
        return f"TIMEOUT ({o.detail})"
    if o.status == "survived":
        return "SURVIVED"
    return f"{o.status.upper()}: {o.detail}"


def kill_ratio(outcomes: list[Outcome]) -> tuple[int, int]:
    """(killed, judged): stale and baseline-red entries judge nothing and are left out."""
    judged = [o for o in outcomes if o.status in ("caught", "timeout", "survived")]
    return sum(o.killed for o in judged), len(judged)


def _ratio_text(outcomes: list[Outcome]) -> str:
    killed, judged = kill_ratio(outcomes)
    pct = f"{100 * killed / judged:.1f} %" if judged else "n/a"
    extra = [f"{n} {s}" for s in ("stale", "baseline red") if (n := sum(o.status == s for o in outcomes))]
    return f"kill ratio {killed}/{judged} = {pct}" + (f" ({', '.join(extra)} not judged)" if extra else "")


def table(outcomes: list[Outcome]) -> str:
    w = max([len("mutation"), *(len(o.mutation.name) for o in outcomes)])
    lines = [f"{'mutation':<{w}}  {'seconds':>7}  caught by", f"{'-' * w}  {'-' * 7}  {'-' * 9}"]
    for o in outcomes:
        lines.append(f"{o.mutation.name:<{w}}  {o.wall_s:7.1f}  {_label(o)}")
    return "\n".join(lines)


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def markdown(outcomes: list[Outcome], root: Path, total_s: float, base: PytestRun | None) -> str:
    commit = _git(root, "rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (plus uncommitted changes in the working tree)" if _git(root, "status", "--porcelain") else ""
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["# Mutation testing", "",
           f"`scripts/mutants.py`, run {datetime.date.today().isoformat()} on commit `{commit}`{dirty}: "
           f"{len(outcomes)} mutations, **{_ratio_text(outcomes)}**, {total_s:.0f} s in all "
           f"(baseline pass {base.wall_s if base else 0:.0f} s).", "",
           "Each row: one bug applied alone to a scratch copy, the tests named for it run with `pytest -x`; "
           "*caught by* is the first test that failed. Seconds are the pytest process's wall time "
           "(interpreter start and collection included) on a 2-core machine shared with other work.", "",
           "| mutation | guarantee | file | caught by | seconds |", "|---|---|---|---|---:|"]
    for o in outcomes:
        m = o.mutation
        out.append(f"| `{m.name}` | {esc(m.guarantee)} | `{m.file}` | {esc(_label(o))} | {o.wall_s:.1f} |")
    out += ["", "## Raw seconds", "", "mutation, status, wall seconds, pytest-reported test seconds", "", "```"]
    for o in outcomes:
        test_s = f"{o.test_s:.2f}" if o.test_s is not None else "-"
        out.append(f"{o.mutation.name},{o.status},{o.wall_s:.2f},{test_s}")
    out += ["```", "", "## The mutations", ""]
    for o in outcomes:
        m = o.mutation
        out += [f"* `{m.name}` ({m.file}): `{_one_line(m.old)}` -> `{_one_line(m.new)}`; tests: "
                + ", ".join(f"`{t}`" for t in m.tests)]
    return "\n".join(out) + "\n"


def _one_line(s: str) -> str:
    return " ".join(s.split()).replace("`", "'").replace("|", "\\|")


# -- main ------------------------------------------------------------------------------------------
def select_mutations(names: list[str] | None, mutations: list[Mutation] | None = None) -> list[Mutation]:
    mutations = MUTATIONS if mutations is None else mutations
    if not names:
        return list(mutations)
    known = {m.name: m for m in mutations}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown mutation(s): {', '.join(unknown)} (see --list)")
    return [known[n] for n in dict.fromkeys(names)]


def run(chosen: list[Mutation], root: Path, timeout: float, *, scratch: Path | None = None,
        log=print) -> tuple[list[Outcome], float, PytestRun | None]:
    started = time.monotonic()
    parent = Path(tempfile.mkdtemp(prefix="voxfarm-mutants-", dir=scratch))
    try:
        pkg = make_scratch(root, parent)
        check_import(pkg)
        log(f"scratch copy: {pkg}")
        red, base = baseline(pkg, chosen, timeout)
        if base is not None:
            log(f"baseline: {len(red)} mutation(s) with red tests, {base.wall_s:.0f} s")
        outcomes = []
        for i, m in enumerate(chosen, 1):
            if m.name in red and not problems(m, pkg):
                o = Outcome(m, "baseline red", detail=red[m.name])
            else:
                o = run_one(pkg, m, timeout)
            outcomes.append(o)
            log(f"[{i}/{len(chosen)}] {m.name}: {_label(o)} ({o.wall_s:.1f} s)")
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    return outcomes, time.monotonic() - started, base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--check", action="store_true", help="report stale entries and exit (no tests run)")
    parser.add_argument("--out", type=Path, help="write the table as markdown (e.g. bench/mutants.md)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per mutation")
    parser.add_argument("--scratch", type=Path, default=None, help="where to make the scratch copy (default: tmp)")
    args = parser.parse_args(argv)
    chosen = select_mutations(args.only)
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    guarantee: {m.guarantee}\n    file: {m.file}\n    tests: {' '.join(m.tests)}")
        return 0
    if args.check:
        stale = check_list(chosen)
        for name, why in stale.items():
            print(f"STALE {name}: {'; '.join(why)}")
        print(f"{len(chosen) - len(stale)} of {len(chosen)} entries apply")
        return 1 if stale else 0
    outcomes, total, base = run(chosen, ROOT, args.timeout, scratch=args.scratch)
    print()
    print(table(outcomes))
    print(f"\n{_ratio_text(outcomes)}; {total:.0f} s in all")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(outcomes, ROOT, total, base), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0 if all(o.killed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
