"""The console (issue #33) in headless Chromium, as one person's session, in order: sign in, render
a two-chapter Markdown book and listen to it, re-render a chunk, watch the jobs list, upload voices
(one refused by voice QA), the other pages at 360 px and under axe-core, a second tenant who sees
none of it, /docs, and finally where the key went (nowhere but the Authorization header)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests

from helpers import ApiClient, tone, wav_bytes

TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> A short book'
BOOK = ("# One\n\nThe first chapter is short. It has two sentences.\n\n"
        "# Two\n\nThe second chapter follows. It ends the book.")
PAGES = ["#/new", "#/jobs", "#/voices", "#/batches", "#/webhooks", "#/usage"]
seen: dict[str, str] = {}  # what the tests of this session pass on to the next ones


def _api(stack, tenant: str = "reader") -> ApiClient:
    return ApiClient(stack.url, stack.keys[tenant])


def _storage(console) -> str:
    return console.js("return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), "
                      "document.cookie, window.location.href, performance.getEntriesByType('resource')"
                      ".map(e => e.name)])")


def test_sign_in_holds_the_key_in_memory_only(console, stack):
    console.driver.get(stack.url + "/")
    assert console.find("#sign-in").is_displayed() and not console.find("#nav").is_displayed()
    console.find("#api-key").send_keys("vf_wrong_key")
    console.find("#sign-in-form button[type=submit]").click()
    console.wait(lambda: "refused" in console.find("#sign-in-error").text, what="the refusal")
    console.sign_in(stack.keys["reader"])
    assert console.js("return localStorage.length + sessionStorage.length") == 0
    assert stack.keys["reader"] not in _storage(console)
    console.go("#/webhooks", "#page form input[name=url]")  # every event of the book goes to a dead port
    console.find("input[name=url]").send_keys("http://127.0.0.1:9/hook")
    console.find("#page form.inline button").click()
    console.wait(lambda: "Endpoint saved" in console.text(), what="the endpoint")


def test_a_markdown_book_renders_plays_and_downloads(console, stack, shots):
    console.go("#/new", "select[name=engine] option")
    console.find("input[name=title]").send_keys(TITLE)
    console.find("textarea[name=text]").send_keys(BOOK)
    console.find("input[name=per_chapter]").click()
    console.all("#page .actions button")[0].click()  # the one-paragraph preview, played at once
    console.wait(lambda: console.js("const a = document.querySelector('#page form audio');"
                                    "return !a.hidden && a.readyState >= 1 && a.currentTime > 0"), what="preview")
    console.find("#page button[type=submit]").click()
    console.wait(lambda: "#/jobs/job_" in console.driver.current_url, what="the job page")
    job_id = console.driver.current_url.rsplit("/", 1)[1]
    seen["book"] = job_id
    console.wait(lambda: "succeeded" in console.find(".summary").text, timeout=120, what="the book to finish")
    console.wait_css("#player")
    job = _api(stack).get(f"/v1/jobs/{job_id}").json()
    # the title is shown as the text it is, and nothing in it ran
    assert console.find("#page h1").text == TITLE
    assert console.js("return window.__pwned === undefined && !document.querySelector('#page script, #page img')")
    # the player: its duration is the result's, its chapters are the book's, as a list and as marks
    duration = console.wait(lambda: console.js("const a = document.getElementById('player');"
                                               "return a.readyState >= 1 && a.duration"), what="the audio")
    assert abs(duration - job["result"]["duration_s"]) < 0.15 and duration > 3
    chapters = [li.text.split("\n")[0] for li in console.all(".chapters li")]
    assert [c["title"] for c in job["result"]["chapters"]] == ["One", "Two"]
    assert [c.split(" ")[0] for c in chapters] == ["One", "Two"] and len(console.all(".marks .mark")) == 2
    console.js("document.getElementById('player').play()")
    console.wait(lambda: console.js("return document.getElementById('player').currentTime") > 0.3, what="playback")
    console.all(".chapters li button.link")[1].click()
    start = job["result"]["chapters"][1]["start_s"]
    console.wait(lambda: start - 0.05 <= console.js("return document.getElementById('player').currentTime") < start + 3,
                 what="the jump to chapter two")
    console.wait(lambda: console.all(".chapters li.now") and "Two" in console.find(".chapters li.now").text,
                 what="chapter two highlighted")
    if "captions.vtt" in job["result"]["files"]:  # captions highlighted as it plays
        console.wait(lambda: console.all(".transcript .cue.now"), what="the caption being spoken")
    else:
        assert "no captions" in console.find(".transcript").text
    chunks = _api(stack).get(f"/v1/jobs/{job_id}/chunks").json()["chunks"]
    assert len(console.all("#page tr[data-chunk]")) == len(chunks)
    assert {"chapters.json", "chapter-001.wav", "chapter-002.wav"} <= set(job["result"]["files"])
    console.js("document.getElementById('player').pause()")
    console.shot(shots, "job")
    [button] = [b for b in console.all(".files button") if b.text == "Download chapters.json"]
    button.click()
    saved = console.wait(lambda: list(console.driver.downloads.glob("chapters*.json")), what="the download")
    assert json.loads(saved[0].read_text()) == job["result"]["chapters"]


def test_a_chunk_is_rendered_again_and_stitched_into_a_new_job(console, stack):
    book = seen["book"]
    console.find("tr[data-chunk='1'] button").click()
    console.wait(lambda: "#/jobs/job_" in console.driver.current_url and book not in console.driver.current_url,
                 what="the re-render's job")
    again = console.driver.current_url.rsplit("/", 1)[1]
    console.wait(lambda: "succeeded" in console.find(".summary").text, timeout=120, what="the re-render")
    old = _api(stack).get(f"/v1/jobs/{book}/chunks").json()["chunks"]
    new = _api(stack).get(f"/v1/jobs/{again}/chunks").json()["chunks"]
    assert [c["index"] for c, o in zip(new, old, strict=True) if c["seed"] != o["seed"]] == [1]
    assert [c["index"] for c in new if not c["cache_hit"]] == [1]
    assert console.wait_css("#player") and len(console.all(".chapters li")) == 2


def test_the_jobs_list_follows_progress_without_reloading(console, stack, shots):
    console.go("#/jobs", "#page table")
    console.js("window.__same_page = true")
    job = _api(stack).post("/v1/jobs", json={"text": "A job submitted elsewhere. " * 6, "title": "Elsewhere"}).json()
    row = f"tr[data-job='{job['id']}']"
    console.wait_css(row, timeout=20)
    console.wait(lambda: "succeeded" in console.find(row).text and f"{job['progress']['total']}/"
                 f"{job['progress']['total']}" in console.find(row).text, timeout=90, what="live progress")
    assert console.js("return window.__same_page") is True  # updated in place: no reload
    titles = [a.text for a in console.all("#page td a")]
    assert TITLE in titles and "Elsewhere" in titles and titles[0] == "Elsewhere"  # newest first
    console.shot(shots, "jobs")


def test_voices_show_qa_and_explain_a_refusal(console, stack, shots, tmp_path):
    console.go("#/voices", "#page form input[name=name]")
    for name, audio, why in (("quiet", np.zeros(44100 * 2, dtype="float32"), "No speech was found"),
                             ("blip", tone(0.4), "too short")):
        (tmp_path / f"{name}.wav").write_bytes(wav_bytes(audio))
        _upload(console, name, tmp_path / f"{name}.wav")
        console.wait(lambda w=why: w in console.find(".refusal").text, what=f"the {name} refusal")
        assert "Refused" in console.find(".refusal").text
    for name in ("narrator", "spare"):
        (tmp_path / f"{name}.wav").write_bytes(wav_bytes(tone(2.0)))
        _upload(console, name, tmp_path / f"{name}.wav")
        console.wait(lambda n=name: f"“{n}” accepted" in console.find(".result").text, what=f"{name} accepted")
        assert "s of speech" in console.find(".result").text and "SNR" in console.find(".result").text
        console.wait_css("tr[data-voice] td:first-child")
    console.wait(lambda: len(console.all("tr[data-voice]")) == 2, what="two voices")
    console.shot(shots, "voices")
    spare = _api(stack).get("/v1/voices").json()["data"][0]
    assert spare["name"] == "spare"
    console.find(f"tr[data-voice='{spare['id']}'] button").click()  # play
    duration = console.wait(lambda: console.js("const a = document.querySelector('#page audio');"
                                               "return a.readyState >= 1 && a.duration"), what="the voice playing")
    assert abs(duration - 2.0) < 0.05
    delete = console.find(f"tr[data-voice='{spare['id']}'] button.secondary")
    delete.click()
    delete.click()  # the second click confirms
    console.wait(lambda: len(console.all("tr[data-voice]")) == 1, what="the deletion")
    assert [v["name"] for v in _api(stack).get("/v1/voices").json()["data"]] == ["narrator"]


def _upload(console, name: str, path) -> None:
    console.find("input[name=name]").clear()
    console.find("input[name=name]").send_keys(name)
    console.find("textarea[name=transcript]").clear()
    console.find("textarea[name=transcript]").send_keys("A short test passage.")
    console.find("input[name=audio_file]").send_keys(str(path))
    console.find("#page form button[type=submit]").click()


def test_batches_webhooks_and_usage(console, stack, shots):
    console.go("#/batches", "textarea[name=items]")
    console.find("textarea[name=items]").send_keys("First line of a batch.\nSecond line of a batch.")
    console.find("#page form button[type=submit]").click()
    console.wait(lambda: "completed" in console.find("#batch-title + p").text, timeout=90, what="the batch")
    assert len(console.all("#page table tbody tr")) == 2
    console.shot(shots, "batches")
    console.go("#/webhooks", "select[name=job] option")
    console.js("const s = document.querySelector('select[name=job]'); s.value = arguments[0];"
               "s.dispatchEvent(new Event('change'))", seen["book"])
    console.wait(lambda: "job.succeeded" in console.find("#page table").text, what="the deliveries log")
    assert "Redeliver" in console.find("#page table").text
    console.go("#/usage", "#page table")
    assert "All engines" in console.text() and "espeak" in console.text() and "queued_audio_s" in console.text()


def test_every_page_fits_360_px_and_passes_axe(console, stack, shots):
    routes = PAGES + [f"#/jobs/{seen['book']}"]
    for route in routes:
        console.go(route)
        time.sleep(0.5)  # the page's first answers
        assert console.axe() == [], route
    console.go("#/new", "select[name=engine] option")
    console.shot(shots, "new")
    console.driver.set_window_size(360, 800)
    try:
        assert console.js("return window.innerWidth") <= 360
        for route in routes:
            console.go(route)
            time.sleep(0.5)
            assert console.overflow() <= 0, route
        console.shot(shots, "job-360")
    finally:
        console.driver.set_window_size(1280, 900)


def test_another_tenant_sees_none_of_it(console, stack):
    console.sign_out()
    console.sign_in(stack.keys["stranger"])
    console.go("#/jobs")
    console.wait(lambda: "No jobs yet" in console.text(), what="an empty jobs list")
    console.go("#/voices")
    console.wait(lambda: "No voices yet" in console.text(), what="an empty voices list")
    console.go(f"#/jobs/{seen['book']}")
    console.wait(lambda: "not found" in console.text(), what="the other tenant's job refused")
    assert TITLE not in console.text() and "narrator" not in console.text()
    console.sign_out()


def test_docs_render_every_operation_from_this_server(console, stack, shots):
    doc = requests.get(f"{stack.url}/openapi.json", timeout=30).json()
    operations = sum(1 for item in doc["paths"].values() for m in item if m in ("get", "post", "put", "delete"))
    console.driver.get(stack.url + "/openapi/swagger")  # the old address leads here
    console.wait(lambda: console.driver.current_url.endswith("/docs"), what="the redirect")
    console.wait(lambda: len(console.all(".opblock")) == operations, what=f"{operations} operations")
    assert "/v1/jobs/{job_id}/rerender" in console.text()
    origins = console.js("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert origins and set(origins) == {stack.url}  # nothing from a CDN
    console.shot(shots, "docs")


def test_the_key_never_reached_a_url_storage_or_log(console, stack):
    api_log, worker_log = stack.api.log(), stack.worker.log()
    browser_log = json.dumps(console.driver.get_log("browser"))
    assert "GET /v1/jobs" in api_log and "POST /v1/jobs/" in api_log  # the access log is there to read
    for key in stack.keys.values():
        for where, text in (("api log", api_log), ("worker log", worker_log), ("browser console", browser_log),
                            ("storage, cookies, URLs", _storage(console))):
            assert key not in text, where
    with pytest.raises(requests.HTTPError):  # and the pages themselves hold nothing of the tenant's
        requests.get(f"{stack.url}/v1/jobs", timeout=10).raise_for_status()
