"""Step: report.html, the build's one self-contained page (flow/build_report), from the files the earlier
steps wrote into the output folder."""

from flow.progress import say

from .state import BuildState


def step_report(st: BuildState) -> None:
    """Write report.html into the staging folder (which becomes --out): settings, every stage's check and
    verdict, per-layer SQNR and cycles, roofline, resources against the part, the C-simulation verdict."""
    from flow.build_report import write_html_report

    model = None
    if st.float_model is not None:  # the model check's figures: the output folder does not record them
        from flow.models import count_complexity

        cx = count_complexity(st.float_model)
        model = {"params": cx.params, "macs": cx.macs, "classes": st.float_model.num_classes}
    path = write_html_report(st.staging, st.cfg, model=model, cache_note=st.cache_note)
    size = path.stat().st_size
    say("report", f"{st.cfg.output_dir() / path.name} ({size / 1e3:.0f} kB, self-contained): settings, checks and "
                  f"verdicts, per-layer SQNR and cycles, roofline, resources, C-simulation")
