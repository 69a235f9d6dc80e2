"""Pronunciation lexicons (/v1/lexicons): PLS and JSON in and out, refusals that store nothing, and
re-submission that re-renders only the chunks a changed rule matched."""

from __future__ import annotations

from helpers import render_in_process

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>Hermione</grapheme><phoneme>{hermione}</phoneme><alias>Her my oh knee</alias></lexeme>
  <lexeme><grapheme>Ron</grapheme><alias>Ronald</alias></lexeme>
</lexicon>"""
V1, V2 = "h\u025a\u02c8ma\u026a\u0259ni", "h\u025c\u02d0m\u02c8a\u026a\u0259ni"
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lexicon alphabet="ipa"><lexeme><grapheme>&lol3;</grapheme><alias>x</alias></lexeme></lexicon>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE lexicon SYSTEM "http://127.0.0.1:9/pls.dtd">
<lexicon alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>y</alias></lexeme></lexicon>"""
BOOK = """# The Letter

Hermione opened the letter at dawn.

The owl waited on the sill, ruffling its feathers against the cold.

# The Journey

Nobody spoke on the long road north through the hills.

By noon Hermione could see the castle.
"""


def test_pls_in_json_and_pls_out(api):
    client = api.client()
    resp = client.post("/v1/lexicons", json={"name": "names", "pls": PLS.format(hermione=V1)})
    assert resp.status_code == 201, resp.text
    lexicon = resp.json()
    assert resp.headers["Location"] == f"/v1/lexicons/{lexicon['id']}"
    assert lexicon["language"] == "en-US" and lexicon["version"] == 1 and lexicon["rule_count"] == 2
    assert [(r["grapheme"], r["phoneme"], r["alias"]) for r in lexicon["rules"]] == [
        ("Hermione", V1, "Her my oh knee"), ("Ron", None, "Ronald")]
    exported = client.get(f"/v1/lexicons/{lexicon['id']}/pls")
    assert exported.headers["Content-Type"].startswith("application/pls+xml")
    assert f"<phoneme>{V1}</phoneme>" in exported.text and 'xml:lang="en-US"' in exported.text
    again = client.post("/v1/lexicons", json={"name": "copy", "pls": exported.text}).json()
    assert again["rules"] == lexicon["rules"]
    assert client.post("/v1/lexicons", json={"name": "names", "rules": [{"grapheme": "a", "alias": "b"}]}
                       ).status_code == 409
    assert [x["name"] for x in client.get("/v1/lexicons").json()["data"]] == ["copy", "names"]
    assert client.delete(f"/v1/lexicons/{again['id']}").status_code == 204
    assert client.get(f"/v1/lexicons/{again['id']}").status_code == 404


def test_hostile_malformed_or_oversized_pls_is_refused_and_nothing_is_stored(make_api):
    api = make_api(lexicon_max_bytes=4096)
    client = api.client()
    broken = "<lexicon>\n<lexeme><grapheme>x</grapheme>\n</lex>"
    for document, line in ((BILLION_LAUGHS, 2), (EXTERNAL, 2), (broken, 3)):
        resp = client.post("/v1/lexicons", json={"name": "bad", "pls": document})
        error = resp.json()["error"]
        assert resp.status_code == 422 and error["code"] == "invalid_pls", resp.text
        assert error["details"]["line"] == line and f"line {line}" in error["message"]
    bad_ipa = client.post("/v1/lexicons", json={"name": "bad", "rules": [{"grapheme": "x", "phoneme": "X1!"}]})
    assert bad_ipa.status_code == 422 and bad_ipa.json()["error"]["details"]["symbols"] == ["X", "1", "!"]
    big = "<lexicon>" + "<lexeme><grapheme>x</grapheme><alias>y</alias></lexeme>" * 200 + "</lexicon>"
    resp = client.post("/v1/lexicons", json={"name": "big", "pls": big})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "lexicon_too_large"
    assert client.get("/v1/lexicons").json()["data"] == []


def test_a_phoneme_the_engine_cannot_speak_is_refused_naming_it(api):
    client = api.client()
    lexicon = client.post("/v1/lexicons", json={"name": "clicks", "rules": [
        {"grapheme": "Xhosa", "phoneme": "\u01c1\u02b0osa"}]}).json()
    resp = client.post("/v1/jobs", json={"text": "Xhosa has clicks.", "engine": "espeak", "lexicons": ["clicks"]})
    error = resp.json()["error"]
    assert resp.status_code == 422 and error["code"] == "unspeakable_phoneme", resp.text
    assert "\u01c1" in error["details"]["symbols"] and "\u01c1" in error["message"]
    # a text without the name never matches the rule: nothing to refuse
    assert client.post("/v1/jobs", json={"text": "Clicks.", "lexicons": [lexicon["id"]]}).status_code == 202


def test_chunks_show_source_and_spoken_text_and_normalisation_can_be_off(api):
    client = api.client()
    client.post("/v1/lexicons", json={"name": "names", "pls": PLS.format(hermione=V1)})
    job = client.post("/v1/jobs", json={"text": "Chapter IV: Hermione paid $12.50 in 1847.",
                                        "lexicons": ["names"]}).json()
    assert job["text_normalization"] == "auto" and job["lexicons"][0]["name"] == "names"
    [chunk] = client.get(f"/v1/jobs/{job['id']}/chunks").json()["chunks"]
    assert chunk["text"] == "Chapter IV: Hermione paid $12.50 in 1847."
    assert chunk["spoken_text"] == (f"Chapter Four: \u27eaHer my oh knee|{V1}\u27eb paid twelve dollars and fifty "
                                    "cents in eighteen forty-seven.")
    assert chunk["lexicon_matches"] == [{"lexicon": job["lexicons"][0]["id"], "grapheme": "Hermione", "version": 1}]
    off = client.post("/v1/jobs", json={"text": "Chapter IV in 1847.", "text_normalization": "off"}).json()
    assert off["text_normalization"] == "off"
    [chunk] = client.get(f"/v1/jobs/{off['id']}/chunks").json()["chunks"]
    assert chunk["spoken_text"] == chunk["text"] == "Chapter IV in 1847."
    dia = client.post("/v1/jobs", json={"text": "[S1] Hermione paid $5.", "engine": "dia",
                                        "lexicons": ["names"], "params": {"max_new_tokens": 8}})
    assert dia.status_code == 202, dia.text  # Dia reads words: the alias, never IPA
    [chunk] = client.get(f"/v1/jobs/{dia.json()['id']}/chunks").json()["chunks"]
    assert chunk["spoken_text"] == "[S1] Her my oh knee paid five dollars."


def test_editing_one_name_re_renders_only_the_chunks_that_contain_it(api):
    client = api.client()
    lexicon = client.post("/v1/lexicons", json={"name": "names", "pls": PLS.format(hermione=V1)}).json()
    body = {"text": BOOK, "lexicons": ["names"], "output": {"format": "wav"}}
    first = client.post("/v1/jobs", json=body).json()
    render_in_process(api.settings, first["id"])
    assert client.get(f"/v1/jobs/{first['id']}").json()["status"] == "succeeded"

    edited = client.put(f"/v1/lexicons/{lexicon['id']}", json={"name": "names", "pls": PLS.format(hermione=V2)})
    assert edited.status_code == 200, edited.text
    versions = {r["grapheme"]: r["version"] for r in edited.json()["rules"]}
    assert edited.json()["version"] == 2 and versions == {"Hermione": 2, "Ron": 1}  # the unchanged rule keeps its

    second = client.post("/v1/jobs", json=body).json()
    render_in_process(api.settings, second["id"])
    done = client.get(f"/v1/jobs/{second['id']}").json()
    chunks = client.get(f"/v1/jobs/{second['id']}/chunks").json()["chunks"]
    assert done["status"] == "succeeded" and len(chunks) == 6  # two titles and four paragraphs
    rendered = [c["text"] for c in chunks if not c["cache_hit"]]
    assert rendered == ["Hermione opened the letter at dawn.", "By noon Hermione could see the castle."]
    assert done["progress"]["cache_hits"] == len(chunks) - 2
    assert all(V2 in c["spoken_text"] for c in chunks if "Hermione" in c["text"])
