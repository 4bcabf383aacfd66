"""The report templates (IHE MRRT / RSNA RadReport spirit) and department macros that
ship with Reading Room: installed by migration 0003, and again whenever a department
finds itself with no template at all (a report always starts from one)."""

from __future__ import annotations

HISTORY = {"heading": "CLINICAL HISTORY", "text": "«___»"}
COMPARISON = {"heading": "COMPARISON", "text": "«None available|___»"}

TEMPLATES = [
    {
        "slug": "ct-chest",
        "name": "CT chest",
        "modalities": "CT",
        "body_parts": "CHEST,THORAX,LUNG",
        "keywords": "chest,thorax,lung,pulmonary,ctpa",
        "sections": [
            HISTORY,
            {
                "heading": "TECHNIQUE",
                "text": "Axial CT images of the chest were obtained «without|with» intravenous "
                "contrast. Multiplanar reformats were reviewed.",
            },
            COMPARISON,
            {
                "heading": "FINDINGS",
                "text": "Lungs and airways: «No suspicious pulmonary nodule or mass|Pulmonary "
                "nodule|Consolidation|Ground-glass opacity». Largest nodule: «__ mm».\n"
                "Pleura: «No pleural effusion or pneumothorax|Pleural effusion|Pneumothorax».\n"
                "Mediastinum and hila: «No lymphadenopathy|Lymphadenopathy». Heart size "
                "«normal|enlarged». «No pericardial effusion|Pericardial effusion».\n"
                "Upper abdomen: «Unremarkable|___».\n"
                "Bones and soft tissues: «No aggressive osseous lesion|___».",
            },
            {"heading": "IMPRESSION", "text": "«___»"},
        ],
    },
    {
        "slug": "chest-radiograph",
        "name": "Chest radiograph",
        "modalities": "CR,DX",
        "body_parts": "CHEST,THORAX",
        "keywords": "chest,cxr,thorax",
        "sections": [
            HISTORY,
            {
                "heading": "TECHNIQUE",
                "text": "«PA and lateral|AP portable|PA» views of the chest.",
            },
            COMPARISON,
            {
                "heading": "FINDINGS",
                "text": "Lines and tubes: «None|___».\n"
                "Lungs: «Clear|Focal consolidation|Interstitial opacities|Nodule». "
                "«No pleural effusion|Small pleural effusion|Large pleural effusion». "
                "«No pneumothorax|Pneumothorax».\n"
                "Heart and mediastinum: cardiomediastinal silhouette «within normal limits"
                "|enlarged». Cardiothoracic ratio «__ %».\n"
                "Bones: «No acute osseous abnormality|___».",
            },
            {"heading": "IMPRESSION", "text": "«No acute cardiopulmonary process|___»"},
        ],
    },
    {
        "slug": "mr-brain",
        "name": "MR brain",
        "modalities": "MR",
        "body_parts": "BRAIN,HEAD",
        "keywords": "brain,head,neuro,cerebral",
        "sections": [
            HISTORY,
            {
                "heading": "TECHNIQUE",
                "text": "Multiplanar multisequence MR imaging of the brain «without|with and "
                "without» intravenous gadolinium. Sequences: «sagittal T1, axial T2, FLAIR, "
                "DWI, SWI|___».",
            },
            COMPARISON,
            {
                "heading": "FINDINGS",
                "text": "Brain parenchyma: «No acute infarct on diffusion-weighted imaging"
                "|Restricted diffusion». «No mass or mass effect|Mass». "
                "White matter: «No significant signal abnormality|Scattered T2/FLAIR "
                "hyperintensities». Largest lesion: «__ mm».\n"
                "Hemorrhage: «None|___».\n"
                "Ventricles and extra-axial spaces: «Normal size and configuration|"
                "Ventriculomegaly». «No extra-axial collection|Extra-axial collection».\n"
                "Vascular flow voids: «Preserved|___».\n"
                "Orbits, sinuses and mastoids: «Unremarkable|___».",
            },
            {"heading": "IMPRESSION", "text": "«___»"},
        ],
    },
    {
        "slug": "generic",
        "name": "Generic",
        "modalities": "",
        "body_parts": "",
        "keywords": "",
        "is_generic": True,
        "sections": [
            HISTORY,
            {"heading": "TECHNIQUE", "text": "«___»"},
            COMPARISON,
            {"heading": "FINDINGS", "text": "«___»"},
            {"heading": "IMPRESSION", "text": "«___»"},
        ],
    },
]

MACROS = [
    (
        "normal chest",
        "The lungs are clear. No pleural effusion or pneumothorax. "
        "The cardiomediastinal silhouette is within normal limits.",
    ),
    ("no acute", "No acute abnormality."),
    (
        "fleischner",
        "Follow-up per Fleischner Society 2017 guidelines: «no routine follow-up"
        "|CT at 6-12 months|CT at 3-6 months».",
    ),
    (
        "critical called",
        "Critical result communicated to «___» by «phone|in person» "
        "at «___»; read back and confirmed.",
    ),
]


def install_defaults(template_model, macro_model) -> None:
    """Create or refresh the shipped templates and department macros (by slug / name).

    Takes the model classes so that the migration can pass its historical models.
    """
    for data in TEMPLATES:
        data = dict(data)
        template_model.objects.update_or_create(slug=data.pop("slug"), defaults=data)
    for name, text in MACROS:
        macro_model.objects.update_or_create(name=name, owner=None, defaults={"text": text})
