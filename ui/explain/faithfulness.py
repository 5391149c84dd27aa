"""The Explain page's faithfulness check: on request (it costs faithfulness.forward_passes), the deletion and
insertion curves of the top-1 class's map beside a random map and the centred Gaussian, and the drop / increase
in confidence of the photo multiplied by each map."""
from __future__ import annotations

import streamlit as st

from camcore.explain import Explanation
from camcore.scores.faithfulness import STEPS, forward_passes
from ui.common import explanations
from ui.common.inputs import method_label
from ui.common.models import ModelChoice
from ui.common.text import plain
from ui.explain import faithfulness_figures

HOW_TO_READ = ("Pixels are removed (replaced by a blurred copy of the photo) or put back onto the blurred photo in "
               f"the order the map ranks them, {100 / STEPS:.0f}% at a time, and the model's probability of the class "
               "is recorded. "
               "A faithful map makes it fall fast when deleting (small area under the curve) and rise fast when "
               "inserting (large area), clearly more than a random map and a centred Gaussian do.")


def faithfulness_ui(name: str, data: bytes, model: ModelChoice, result: Explanation, *, key: str) -> None:
    """An expander with a toggle; the figure and the table only once it is on. `result` is the explanation of the
    photo (explanations.explanation), whose first class is scored with the options that made it."""
    with st.expander("Faithfulness: does the model follow the map?"):
        st.caption(HOW_TO_READ)
        if not st.toggle(f"Compute for '{plain(result.predictions[0].class_name)}' ({forward_passes(STEPS)} forward "
                         "passes)",
                         key=f"{key}.faithfulness"):
            return
        with st.spinner("Deleting and inserting pixels…"):
            report = explanations.faithfulness(data, name, model, result.options)
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
