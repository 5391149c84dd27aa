"""The Explain page's faithfulness check: on request (it costs faithfulness.forward_passes), the deletion and
insertion curves of the top-1 class's map beside a random map and the centred Gaussian, and the drop / increase
in confidence of the photo multiplied by each map."""
from __future__ import annotations

import streamlit as st

from camcore.explain import Explanation
from camcore.scores.faithfulness import STEPS, forward_passes
from ui.common import explanations
from ui.common.inputs import method_label
from ui.common.state import EXPLAIN
from ui.common.text import plain
from ui.explain import faithfulness_figures
from ui.explain.settings import Settings

HOW_TO_READ = ("Pixels are removed (replaced by a blurred copy of the photo) or put back onto the blurred photo in "
               f"the order the map ranks them, {100 / STEPS:.0f}% at a time, and the model's probability of the class "
               "is recorded. "
               "A faithful map makes it fall fast when deleting (small area under the curve) and rise fast when "
               "inserting (large area), clearly more than a random map and a centred Gaussian do.")


def faithfulness_ui(name: str, data: bytes, settings: Settings, result: Explanation, index: int, *,
                    layer: str | None) -> None:
    """The Explain page's expander for one photo's top-1 map (cached per photo and settings)."""
    expander_ui(data, name, settings.spec, settings.weights_path, settings.device, result, key=EXPLAIN.key(str(index)),
                layer=layer, top_k=settings.top_k, size_px=settings.size_px, min_side_px=settings.min_side_px)


def expander_ui(data: bytes, name: str, spec: str, weights_path: str | None, device: str, result: Explanation, *,
                key: str, layer: str | None, top_k: int, size_px: int | None, min_side_px: int | None,
                classes: tuple[int, ...] | None = None) -> None:
    """An expander with a toggle; the figure and the table only once it is on. `result` is the explanation
    these settings give (explanations.explanation), whose first class is scored."""
    with st.expander("Faithfulness: does the model follow the map?"):
        st.caption(HOW_TO_READ)
        if not st.toggle(f"Compute for '{plain(result.predictions[0].class_name)}' ({forward_passes(STEPS)} forward "
                         "passes)",
                         key=f"{key}.faithfulness"):
            return
        with st.spinner("Deleting and inserting pixels…"):
            report = explanations.faithfulness(data, name, spec, weights_path, device, method=result.method,
                                            layer=layer, top_k=top_k, size_px=size_px, min_side_px=min_side_px,
                                            classes=classes, clamp_negative_weights=result.clamped)
        st.plotly_chart(faithfulness_figures.curves_figure(report, method_label=method_label(result.method)),
                        key=f"{key}.faithfulness_chart")
        maps = {method_label(result.method): report.method, "Random map": report.random_map,
                "Centred Gaussian": report.gaussian_map}
        st.table({"map": list(maps),
                  "deletion AUC ↓": [f"{m.deletion.auc:.3f}" for m in maps.values()],
                  "insertion AUC ↑": [f"{m.insertion.auc:.3f}" for m in maps.values()],
                  "photo × map: probability": [f"{m.probability:.3f} → {m.masked_probability:.3f}"
                                               for m in maps.values()],
                  "drop ↓": [f"{100 * m.drop:.0f}%" for m in maps.values()],
                  "increase": ["yes" if m.increase else "no" for m in maps.values()]}, hide_index=True)
        st.caption("Photo × map: the photo multiplied by the map scaled to [0, 1] (Grad-CAM++'s test). The drop is "
                   "max(0, before - after) / before: averaged over many photos it is the \"average drop\" (lower "
                   "is better), and the share of photos whose probability rises is the \"increase in confidence\".")
