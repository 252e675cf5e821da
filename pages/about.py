"""About: what skindx is and is not, what happens to photos, and whose work it builds on."""

from __future__ import annotations

import streamlit as st

from skindx import __version__
from skindx.config import settings
from skindx.reports.results import LIMITS_MARKDOWN
from streamlit_app import ui

WHAT = """
skindx is a teaching tool. It shows how a convolutional neural network (a VGG-style model)
reads images of skin lesions, where it looks (saliency maps) and how well it did when it was
tested. It also holds lessons on skin lesions and statistics on the public ISIC datasets.

**It is not a medical device and it cannot tell you whether a spot is cancer.** A doctor looks
at the whole person: the history of the spot, how it feels, the rest of the skin. Please see a
doctor or dermatologist about any spot that is new, changing in size, shape or colour, bleeding,
itching, or that simply worries you, whatever this app says.
"""
PRIVACY = """
- Photos you upload or take are read **in memory** for your browser session only. They are not
  written to disk, not logged, not sent anywhere else and not shown to anyone else.
- A large JPEG photo is shrunk by your own browser before it is sent (to {shrunk_side:,} pixels
  on its longer side, more than the app uses), so it uploads in seconds on a phone, and what
  your camera stored in the file, such as where and on which phone it was taken, stays with
  you.
- The same goes for the age, sex, body site and warning signs you may add: they are used for
  that page's results and never stored.
- All of it stays in memory while you move between the app's pages, and is forgotten when you
  reload the page or close the tab; a photo, as soon as you remove it or clear it.
- A metadata CSV you upload on the Statistics page is read in memory and summarised as counts;
  the summary stays for your visit, across the app's pages, until you remove the file, reload
  or close the tab.
- Downloads (the results table, the report, the overlays) are made for your session only, from
  those same in-memory results.
- Example images (in the lessons, the image quiz and the similar lesions of the Saliency
  explorer) come from a folder of ISIC images the person running this app put on the server;
  your photos never join them.
- The server sends no usage statistics.
- Uploads are limited to the image types listed on the upload button, up to
  {max_mb} MB each once shrunk.
"""
CREDITS = """
- **HAM10000**: Tschandl P., Rosendahl C., Kittler H. *The HAM10000 dataset, a large collection
  of multi-source dermatoscopic images of common pigmented skin lesions.* Scientific Data 5,
  180161 (2018). doi:10.1038/sdata.2018.161
- **ISIC 2018**: Codella N. et al. *Skin Lesion Analysis Toward Melanoma Detection 2018: A
  Challenge Hosted by the International Skin Imaging Collaboration (ISIC).* arXiv:1902.03368
  (2019).
- **ISIC 2019 and 2020**: the International Skin Imaging Collaboration archive,
  isic-archive.com (BCN20000: Combalia M. et al., arXiv:1908.02288, 2019; SIIM-ISIC 2020:
  Rotemberg V. et al., Scientific Data 8, 34, 2021).
- **Saliency maps**: Grad-CAM (Selvaraju et al., ICCV 2017), Grad-CAM++ (Chattopadhay et al.,
  WACV 2018), Score-CAM (Wang et al., CVPR-W 2020), LayerCAM (Jiang et al., IEEE TIP 2021) and
  SmoothGrad (Smilkov et al., 2017), through the tf-keras-vis library.
- **Similar lesions**: content-based image retrieval with a classifier's features (Tschandl P.
  et al., *British Journal of Dermatology* 181(1), 155-165, 2019).
- **Network**: VGG (Simonyan and Zisserman, arXiv:1409.1556, 2014), built with Keras.
- **Warning signs**: the weighted 7-point checklist of NICE guideline NG12, *Suspected cancer:
  recognition and referral* (National Institute for Health and Care Excellence, 2015); the
  "EFG" signs of nodular melanoma (Kelly et al., *Australian Family Physician*, 2003).
- **Photo sharpness**: the variance of the Laplacian (Pech-Pacheco et al., ICPR 2000), through
  OpenCV.
"""
THEMES = (
    "Light or dark: the app follows your device's setting, and its menu (⋮, top right) "
    "chooses System, Light or Dark."
)


def main() -> None:
    st.title("About skindx")
    ui.disclaimer()
    st.markdown(WHAT)
    st.header("What the model cannot do")
    st.markdown(LIMITS_MARKDOWN)
    st.header("Your photos and privacy")
    st.markdown(PRIVACY.format(max_mb=settings().max_upload_mb, shrunk_side=ui.SHRUNK_SIDE))
    st.header("Data and methods")
    st.markdown(CREDITS)
    ui.page_link("model_card", "How the model was trained and tested", ":material/fact_check:")
    st.caption(THEMES)
    st.caption(f"skindx {__version__}")


main()
