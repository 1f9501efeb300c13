"""``tune``'s batch-1 remedies on fake measurements (DCNMix's bare squeeze): the export fix
for an ORT graph, padding for the PyTorch module, kept for the family; remedies that fail
said one by one; none at batch 2; what to paste carries the remedy."""

from __future__ import annotations

from onnxbench.tuning.answer import paragraph
from onnxbench.tuning.goals import parse_goal
from onnxbench.tuning.records import Evidence
from onnxbench.tuning.remedies import pad, squeeze_fix
from onnxbench.tuning.search import Search
from onnxbench.tuning.space import Candidate, Space
from tune_fakes import Fake, make_cand, make_search

# ------------------------------------------------------------- the batch-1 remedies

class Hazard(Fake):
    """DCNMix at batch 1: an ORT graph without the export fix, or any runtime without
    padding, fails when it runs (the lint found the bare squeeze); ``broken`` remedies
    fail too."""

    def __init__(self, medians, broken=(), **kw):
        super().__init__(medians, **kw)
        self.broken = set(broken)
        self.failures: list[tuple[str, dict]] = []

    def __call__(self, stage, fid, cands, *, limit_s=None):
        out = super().__call__(stage, fid, cands, limit_s=limit_s)
        for c in cands:
            opts = c.opts
            fixed = ("fix" in opts and "fix" not in self.broken) or \
                ("pad_batch_to" in opts and "pad" not in self.broken)
            if not fixed:
                self.failures.append((c.runtime, opts))
                out[c.key] = Evidence(c.key, "failed", "Concat: Ranks of input data are "
                                      "different", failed_at="run",
                                      findings=("squeeze-no-axes",) if c.exporter else ())
        return out


def _hazard_space() -> list[Candidate]:
    ort = [make_cand(i, "ort-cpu", threads=1 + i % 2, exporter="dynamo") for i in range(4)]
    return ort + [make_cand(4 + i, "torch-cpu", threads=1 + i % 2) for i in range(2)]


def test_batch1_failure_is_measured_with_the_projects_remedy():
    fake = Hazard({i: 5.0 + i for i in range(6)})
    cands = _hazard_space()
    s = make_search(fake, cands, remedies=(squeeze_fix(), pad()))
    d = s.run()
    win = s.by_key[d.winner]
    assert win.runtime == "ort-cpu" and win.opts["fix"] == "squeeze-dims"
    assert "with --fix squeeze-dims" in win.label()
    # each family failed once, then its candidates ran with its remedy: the export fix
    # for the ORT graph (its lint found the bare squeeze), padding for the PyTorch module
    assert sorted(r for r, _ in fake.failures) == ["ort-cpu", "torch-cpu"]
    torch = [c for c in d.added if c.runtime == "torch-cpu"]
    assert torch and all(c.opts["pad_batch_to"] == 2 for c in torch)
    first_ort = next(c for c in cands if c.key in d.dropped and c.runtime == "ort-cpu")
    assert "measured instead with --fix squeeze-dims" in d.dropped[first_ort.key]
    assert any("remedy --fix squeeze-dims" in n for n in d.remedies)
    text = paragraph(s.goal, Space(cands + d.added), d)
    assert "ORT CPU on its dynamo export fails at batch 1; its candidates use the project's " \
        "remedy --fix squeeze-dims" in text


def test_batch1_failure_whose_remedies_fail_says_which_were_tried():
    fake = Hazard({i: 5.0 for i in range(6)}, broken={"fix", "pad"})
    cands = _hazard_space()
    s = make_search(fake, cands, remedies=(squeeze_fix(), pad()))
    d = s.run()
    assert d.winner is None
    reasons = [d.dropped[c.key] for c in cands]
    assert all("Ranks of input data" in r for r in reasons)
    assert any("--fix squeeze-dims failed too" in r and "pad_batch_to: 2 failed too" in r
               for r in reasons)
    text = paragraph(s.goal, Space(cands + d.added), d)
    assert "pad_batch_to: 2 failed too" in text  # never a bare "no configuration meets"


def test_no_remedy_at_batch_2():
    fake = Hazard({i: 5.0 for i in range(6)})
    s = Search(parse_goal("latency", batch=2), _hazard_space(), fake, fake.compare,
               budget_s=1000, clock=fake.clock, remedies=(squeeze_fix(), pad()))
    d = s.run()
    assert not d.added and d.winner is None


def test_what_to_paste_carries_the_remedy(tmp_path):
    import yaml

    from onnxbench.suite.parse import load_suite
    from onnxbench.tuning.paste import what_to_paste

    goal = parse_goal("latency")
    fixed = squeeze_fix().apply(make_cand(0, "ort-cpu", exporter="dynamo"))
    paste = what_to_paste(fixed, goal, model="dcnv2", config="tiny", seq=None, accuracy={})
    assert paste["export"] == ("onnxbench export dcnv2 --config tiny --exporter dynamo "
                               "--fix squeeze-dims --out exports")
    assert "exports/dcnv2.onnx" in paste["session"]
    padded = pad().apply(make_cand(1, "torch-cpu"))
    paste = what_to_paste(padded, goal, model="dcnv2", config="tiny", seq=None, accuracy={})
    assert paste["export"] is None and "pad every input to 2 rows" in paste["session"]
    for cand in (fixed, padded):
        text = what_to_paste(cand, goal, model="dcnv2", config="tiny", seq=None,
                             accuracy={})["suite_yaml"]
        doc = yaml.safe_load(text)
        doc["cases"][0]["options"].pop("variant")  # the fake candidates' tag
        (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
        suite = load_suite(str(tmp_path / "s.yaml"))[0]
        opts = suite.cases[0].options
        assert opts.get("fix") == "squeeze-dims" or opts.get("pad_batch_to") == 2
