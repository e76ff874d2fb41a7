"""Generate the project's embedded sentiment corpus, ``reviews.tsv``.

Run ``python data/sentiment/make_corpus.py`` to (re)write ``reviews.tsv`` next
to this file.  The output is byte-for-byte identical on every run: all
randomness comes from one ``random.Random(SEED)``, the lexicon lives in tuples
(never sets, whose iteration order changes between interpreter runs) and only
the Python standard library is used.

Every sentence is assembled from the hand-written lexicon below; no text is
taken from an existing dataset.  The corpus exists to teach recurrent
networks, so it is built to reward models that read word *order*:

* Four domains (``products``, ``films``, ``restaurants``, ``services``).  Each
  domain is split into *kinds* (a phone, a blender; a horror film, a
  documentary; a sushi bar; an airline ...).  A row only combines aspects and
  facts of one kind plus the domain-wide ones, so sentences stay plausible
  ("this phone's battery", never "this blender's battery").
* Four row families with fixed quotas per domain and label (``QUOTAS``):

  - ``simple``: one clear polarity, no negation or contrast (about 30% of
    the rows) so that the task stays learnable;
  - ``negation``: the polarity of a negated phrase decides the label ("the
    waiter wasn't rude at all" is positive, "hardly worth the money" is
    negative).  Negated positives and negated negatives are equally common, so
    "not" / "never" alone carry no label information;
  - ``contrast``: two clauses of opposite polarity joined by a connective
    ("but", "however", "although", "even though", "despite", ...).  The label
    follows the main clause.  Contrast rows are emitted in *pairs*: the same
    two clauses with the same connective, once in each role.  Both rows hold
    exactly the same multiset of words but have opposite labels, which a
    bag-of-words model cannot separate;
  - ``mixed``: a weak or plain clause ("slightly slow", "slow") conceded
    against a strong one ("absolutely superb"); the strong clause is always
    the main clause, so the label is never in doubt.

* Labelling rules (a careful reader applies them without hesitation):
  negation flips the polarity of the phrase it scopes over; intensifiers and
  downtoners never flip it; in a contrast the label is that of the main
  clause, i.e. the clause after "but" / "however" / "yet" / "still", and the
  clause *not* introduced by "although" / "even though" / "though" /
  "while" / "despite".
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SEED = 20240611
OUT_PATH = Path(__file__).with_name("reviews.tsv")

POS, NEG = 1, -1
LABEL = {POS: "positive", NEG: "negative"}

# Rows per domain and family.  ``contrast`` counts *pairs*, each giving one
# positive and one negative row; the other families are split evenly between
# the labels.  4 domains x (290 + 260 + 2 * 115 + 196) = 3,904 rows.
QUOTAS = {"simple": 290, "negation": 260, "contrast": 115, "mixed": 196}

# How often an aspect's own adjectives ("soggy pasta") are used instead of
# the shared evaluative ones ("awful pasta").  The shared ones recur across
# domains, which keeps the simple rows learnable for small models.
OWN_ADJECTIVE_SHARE = 0.55
# Negation mostly scopes over the common evaluative words ("not good",
# "far from impressive"), which are then seen under both labels; the
# aspect-specific words keep a mostly stable polarity that a small model can
# learn from the simple rows.
NEGATED_OWN_SHARE = 0.35

# Natural short reviews: anything outside this range is regenerated.
MIN_WORDS, MAX_WORDS = 5, 30


# --------------------------------------------------------------------------
# Lexicon data structures
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Aspect:
    """A reviewable part of a thing, with adjectives that suit it.

    Gradable adjectives ("slow") take "very" / "slightly"; extreme ones
    ("spotless") only take "absolutely" / "truly", hence two lists per
    polarity.
    """

    noun: str
    plural: bool
    adjectives: dict  # {polarity: {"g": gradable tuple, "x": extreme tuple}}


def aspect(noun: str, pos: str, neg: str, *, pl: bool = False,
           pos_x: str = "", neg_x: str = "") -> Aspect:
    """Build an Aspect from space-separated adjective lists (compact data)."""
    return Aspect(noun, pl, {
        POS: {"g": tuple(pos.split()), "x": tuple(pos_x.split())},
        NEG: {"g": tuple(neg.split()), "x": tuple(neg_x.split())},
    })


@dataclass(frozen=True)
class Fact:
    """A domain-specific event plus its negated form (opposite polarity)."""

    text: str
    negated: str
    polarity: int


def facts(*rows: tuple[str, str, int]) -> tuple[Fact, ...]:
    return tuple(Fact(*row) for row in rows)


@dataclass(frozen=True)
class Kind:
    """One kind of reviewed thing: its names, aspects and typical events."""

    names: tuple[str, ...]
    aspects: tuple[Aspect, ...]
    facts: tuple[Fact, ...] = ()


@dataclass(frozen=True)
class Domain:
    name: str
    kinds: tuple[Kind, ...]
    aspects: tuple[Aspect, ...]        # shared by every kind of the domain
    facts: tuple[Fact, ...]
    item_adjectives: dict              # like Aspect.adjectives, for the thing
    verbs: dict                        # {polarity: experiencer verb phrases}
    again: tuple[str, ...]             # "buy it again", for "Would I ...?"
    gerunds: tuple[str, ...]           # "buying it", for "I regret ..."
    worth: tuple[str, ...]             # "the money", for "worth ..."
    verdicts: dict                     # {polarity: stock predicate phrases}
    determiners: tuple                 # ((determiner, suffix, weight), ...)
    past_share: float                  # probability of past tense


# --------------------------------------------------------------------------
# Shared vocabulary
# --------------------------------------------------------------------------

# General evaluative adjectives usable with any aspect: "g" gradable, "x"
# extreme, "w" weak ones that only appear in mild clauses, "d" the gradable
# ones that also sound natural after a downtoner.
GENERAL = {
    POS: {"g": ("good", "nice", "impressive", "pleasant"),
          "x": ("excellent", "superb", "outstanding", "fantastic",
                "brilliant", "wonderful", "great", "amazing", "perfect"),
          "w": ("decent", "fine", "solid", "acceptable"),
          "d": ("good", "nice", "pleasant", "impressive")},
    NEG: {"g": ("bad", "poor", "disappointing"),
          "x": ("awful", "terrible", "dreadful", "horrible", "abysmal",
                "atrocious", "appalling"),
          "w": ("mediocre", "underwhelming", "lacklustre", "forgettable"),
          "d": ("disappointing",)},  # "slightly bad" sounds off
}

# Intensifiers never flip polarity.  Gradable adjectives take the first list,
# extreme adjectives the second ("very superb" is not English).
INTENSIFIERS = ("very", "really", "extremely", "incredibly", "remarkably",
                "genuinely", "seriously", "so", "exceptionally")
EXTREME_INTENSIFIERS = ("absolutely", "truly", "simply", "really", "just")
# Downtoners weaken without flipping.  Some only sound right with one
# polarity ("a bit slow" but not "a bit delicious").
DOWNTONERS = {
    POS: ("fairly", "reasonably", "quite", "pretty", "rather", "mostly"),
    NEG: ("slightly", "a bit", "a little", "somewhat", "rather", "quite",
          "pretty"),
}
# Modifiers that can also sit before a noun ("the slightly slow service");
# "the so slow service" or "the a bit slow service" are ungrammatical.
ATTRIBUTIVE_OK = ("", "very", "really", "extremely", "incredibly",
                  "remarkably", "genuinely", "exceptionally", "absolutely",
                  "truly", "slightly", "somewhat", "fairly", "reasonably")

OPENERS = ("Honestly,", "Overall,", "To be honest,", "Frankly,", "In short,",
           "All in all,", "Well,", "I have to say,", "I must say,",
           "In my opinion,", "Bottom line:", "Long story short,", "Okay,",
           "So,", "For what it's worth,", "Quick review:", "Wow,")

# (subject, be in the past, have in the present).  "I" is listed several
# times so that first-person reviews dominate, as on real review sites.
EXPERIENCERS = (("I", "was", "have"),) * 6 + (
    ("we", "were", "have"), ("we", "were", "have"),
    ("my wife", "was", "has"), ("my husband", "was", "has"),
    ("my partner", "was", "has"), ("my friend", "was", "has"),
    ("my sister", "was", "has"), ("my brother", "was", "has"),
    ("my parents", "were", "have"), ("my kids", "were", "have"),
    ("my colleague", "was", "has"), ("my flatmate", "was", "has"),
    ("my mum", "was", "has"), ("my dad", "was", "has"),
)
REPORTING_VERBS = ("thought", "said", "felt", "reckoned", "agreed that",
                   "told me", "mentioned that")
FIRST_PERSON_REPORTING = ("thought", "felt", "reckoned")  # no "I told me"

# Negated experiencer phrases, keyed by the polarity of the whole phrase.
NEGATED_EXPERIENCE = {
    POS: ("{be} never disappointed by {obj}",
          "{be} not disappointed by {obj} at all",
          "had no complaints about {obj}",
          "had no problems with {obj}",
          "could not fault {obj}",
          "{have_p} nothing bad to say about {obj}",
          "never had an issue with {obj}",
          "{be} never let down by {obj}",
          "could not find a single fault with {obj}"),
    NEG: ("{be} not impressed by {obj}",
          "{be} never happy with {obj}",
          "did not like {obj}",
          "{have_p} nothing good to say about {obj}",
          "did not think much of {obj}",
          "{be} not pleased with {obj}",
          "{be} far from happy with {obj}",
          "could not find anything good about {obj}"),
}
# Affirmative counterparts that reuse the same nouns ("problems",
# "complaints", "nothing"), so those words appear under both labels.
IDIOMATIC_EXPERIENCE = {
    POS: ("{have_p} only good things to say about {obj}",
          "had nothing but praise for {obj}"),
    NEG: ("had nothing but problems with {obj}",
          "had endless issues with {obj}",
          "had plenty of complaints about {obj}"),
}

# Negation patterns applied to an adjective of the *opposite* polarity to the
# clause we want.  A bare "not + negative adjective" ("the waiter was not
# rude") is only faintly positive, so negated negatives always use an
# emphatic form ("not rude at all", "anything but rude").
NEGATED_ADJECTIVE = {
    NEG: ("{subj} {be_not} {adj}", "{subj} {be_not} {adj} at all",
          "{subj} {be} not at all {adj}", "{subj} {be} never {adj}",
          "{subj} {be} far from {adj}", "{subj} {be} anything but {adj}",
          "{subj} {be} hardly {adj}", "{subj} {be_not} particularly {adj}",
          "{subj} {be} not remotely {adj}", "{subj} {be} in no way {adj}",
          "I would not call {subj} {adj}"),
    POS: ("{subj} {be_not} {adj} at all", "{subj} {be} not at all {adj}",
          "{subj} {be} never {adj}", "{subj} {be} far from {adj}",
          "{subj} {be} anything but {adj}", "{subj} {be} not remotely {adj}",
          "{subj} {be_not} even slightly {adj}", "{subj} {be} in no way {adj}",
          "I would never call {subj} {adj}"),
}

# Contrast frames: {a} is the conceded clause, {b} the main clause that sets
# the label; {a_np} is {a} as a noun phrase (for "despite").
CONTRAST_FRAMES = (
    "{a}, but {b}", "{a}, but honestly {b}", "{a}; however, {b}",
    "{a}. However, {b}", "although {a}, {b}", "{b}, although {a}",
    "even though {a}, {b}", "{b}, even though {a}", "though {a}, {b}",
    "{b}, though {a}", "while {a}, {b}", "despite {a_np}, {b}",
    "{b}, despite {a_np}", "{a}, yet {b}", "{a}, and yet {b}",
    "{a}. Still, {b}", "{a}. That said, {b}", "{a}. Even so, {b}",
    "{a}. Nevertheless, {b}", "sure, {a}, but {b}",
    "it's true that {a}, but {b}", "yes, {a}, but {b}",
    "granted, {a}, but {b}",
)

QA_ANSWERS = {
    POS: ("Absolutely.", "Definitely.", "Without a doubt.",
          "Yes, without hesitation.", "In a heartbeat.", "Of course."),
    NEG: ("Absolutely not.", "Definitely not.", "Not a chance.", "No way.",
          "Not at all.", "Never.", "Not in a million years."),
}
RATINGS = {POS: ("five stars", "ten out of ten", "full marks", "a solid ten"),
           NEG: ("one star", "zero stars", "no stars at all", "a two out of ten")}

# --------------------------------------------------------------------------
# Domain lexicons
# --------------------------------------------------------------------------

PRODUCT_SHARED = (
    aspect("price", "fair reasonable competitive", "steep inflated",
           pos_x="unbeatable", neg_x="outrageous"),
    aspect("packaging", "neat compact sturdy", "wasteful flimsy excessive"),
    aspect("instructions", "clear straightforward helpful",
           "confusing vague unhelpful", pl=True),
    aspect("build quality", "solid sturdy", "flimsy cheap"),
    aspect("design", "sleek elegant clever", "clunky ugly awkward"),
    aspect("materials", "premium durable", "cheap flimsy", pl=True),
    aspect("finish", "smooth polished", "rough patchy"),
    aspect("warranty", "generous", "restrictive", neg_x="useless"),
    aspect("setup", "quick painless simple", "tedious fiddly frustrating"),
)
PRODUCT_FACTS = facts(
    ("it stopped working after a month", "it has never stopped working", NEG),
    ("it does exactly what it promises", "it does not do what it promises",
     POS),
    ("it broke within a week", "it has not broken once in two years", NEG),
    ("it looks exactly like the photos", "it looks nothing like the photos",
     POS),
    ("setup took ages", "setup did not take long at all", NEG),
    ("it feels built to last", "it does not feel built to last", POS),
    ("it arrived with a scratch on the front",
     "it did not arrive with a single scratch", NEG),
    ("it replaced two gadgets in my kitchen drawer",
     "it did not replace anything I already owned", POS),
)
PHONE_BATTERY = aspect("battery", "long-lasting reliable",
                       "weak unreliable short-lived")
PRODUCTS = Domain(
    name="products",
    kinds=(
        Kind(("phone", "smartphone"), (
            PHONE_BATTERY,
            aspect("screen", "bright sharp crisp vivid", "dim blurry grainy",
                   pos_x="stunning gorgeous"),
            aspect("camera", "sharp reliable", "grainy blurry slow",
                   pos_x="stunning"),
            aspect("speakers", "loud clear", "tinny quiet", pl=True),
            aspect("software", "smooth intuitive stable",
                   "buggy sluggish clunky"),
            aspect("charger", "fast compact", "slow flimsy"),
            aspect("performance", "fast smooth snappy",
                   "sluggish laggy slow"),
        ), facts(
            ("the battery easily lasts all day",
             "the battery does not last a full day", POS),
            ("the app crashes constantly", "the app never crashes", NEG),
            ("the screen scratches easily",
             "the screen does not scratch easily", NEG),
            ("it overheats when charging",
             "it never overheats even when charging", NEG),
            ("calls drop all the time", "calls never drop", NEG),
            ("face unlock works every time",
             "face unlock does not work half the time", POS),
        )),
        Kind(("laptop", "ultrabook"), (
            PHONE_BATTERY,
            aspect("keyboard", "comfortable responsive", "mushy cramped"),
            aspect("trackpad", "smooth precise", "jumpy unresponsive"),
            aspect("screen", "bright sharp crisp", "dim washed-out grainy"),
            aspect("fans", "quiet", "noisy loud whiny", pl=True),
            aspect("hinge", "sturdy firm", "wobbly loose"),
            aspect("performance", "fast smooth snappy",
                   "sluggish laggy slow"),
        ), facts(
            ("it boots in seconds", "it does not boot quickly", POS),
            ("the fans roar under any load", "the fans never get loud", NEG),
            ("it runs all my software without a hiccup",
             "it does not run my software smoothly", POS),
            ("the keys started sticking after a month",
             "the keys have never stuck", NEG),
        )),
        Kind(("blender", "food processor"), (
            aspect("motor", "powerful quiet", "weak noisy underpowered"),
            aspect("blades", "sharp sturdy", "blunt flimsy", pl=True),
            aspect("jug", "sturdy solid", "flimsy brittle"),
            aspect("lid", "secure tight", "loose leaky"),
            aspect("controls", "intuitive simple", "fiddly confusing",
                   pl=True),
        ), facts(
            ("it crushes ice in seconds", "it cannot crush ice", POS),
            ("the lid leaks every time I use it", "the lid has never leaked",
             NEG),
            ("cleaning it takes a minute", "cleaning it is not easy", POS),
            ("it smells of burning after a minute",
             "it has never smelled of burning", NEG),
        )),
        Kind(("speaker", "soundbar"), (
            aspect("sound", "rich clear warm", "tinny muffled distorted"),
            aspect("bass", "deep punchy", "weak boomy"),
            aspect("battery", "long-lasting reliable", "weak short-lived"),
            aspect("bluetooth connection", "stable reliable",
                   "patchy unreliable"),
            aspect("remote", "handy simple", "fiddly unresponsive"),
        ), facts(
            ("the sound cuts out randomly", "the sound never cuts out", NEG),
            ("it pairs with my phone instantly",
             "it will not pair with my phone", POS),
            ("it fills the whole room with sound",
             "it cannot fill even a small room", POS),
        )),
        Kind(("backpack", "rucksack"), (
            aspect("zips", "smooth sturdy", "flimsy stiff", pl=True),
            aspect("straps", "comfortable padded", "thin uncomfortable",
                   pl=True),
            aspect("fabric", "tough waterproof", "thin scratchy"),
            aspect("pockets", "handy roomy", "tiny awkward", pl=True),
            aspect("stitching", "neat strong", "loose sloppy"),
        ), facts(
            ("the zip broke on the second day",
             "the zip has never given me any trouble", NEG),
            ("everything stayed dry in a downpour",
             "nothing stayed dry in the rain", POS),
            ("it fits my laptop perfectly", "it does not fit my laptop", POS),
        )),
        Kind(("vacuum cleaner", "robot vacuum"), (
            aspect("suction", "strong powerful", "weak feeble"),
            aspect("filter", "washable effective", "flimsy clogged"),
            aspect("dust container", "roomy", "tiny awkward"),
            aspect("battery", "long-lasting reliable", "weak short-lived"),
            aspect("brush", "effective sturdy", "useless flimsy"),
        ), facts(
            ("it picks up every bit of pet hair",
             "it does not pick up pet hair", POS),
            ("it gets stuck under the sofa", "it never gets stuck", NEG),
            ("the cord keeps tangling", "the cord never tangles", NEG),
        )),
        Kind(("coffee machine", "espresso machine"), (
            aspect("coffee", "rich smooth strong", "bitter weak watery"),
            aspect("milk frother", "powerful reliable", "feeble noisy"),
            aspect("water tank", "large", "tiny awkward"),
            aspect("controls", "intuitive simple", "fiddly confusing",
                   pl=True),
        ), facts(
            ("it leaks water all over the counter", "it has never leaked",
             NEG),
            ("it makes a proper espresso in under a minute",
             "it does not make a proper espresso", POS),
            ("descaling takes five minutes", "descaling is not simple", POS),
        )),
        Kind(("smartwatch", "fitness tracker"), (
            aspect("strap", "comfortable soft", "itchy cheap"),
            aspect("heart rate sensor", "accurate reliable",
                   "inaccurate unreliable"),
            aspect("battery", "long-lasting reliable", "weak short-lived"),
            aspect("screen", "bright crisp", "dim tiny"),
            aspect("companion app", "intuitive reliable", "buggy clunky"),
        ), facts(
            ("the step count is spot on", "the step count is not accurate",
             POS),
            ("it syncs with my phone instantly",
             "it does not sync with my phone", POS),
            ("the strap gave me a rash", "the strap has never irritated my skin",
             NEG),
        )),
    ),
    aspects=PRODUCT_SHARED,
    facts=PRODUCT_FACTS,
    item_adjectives={
        POS: {"g": ("reliable", "handy", "useful", "well-made", "sturdy"),
              "x": ()},
        NEG: {"g": ("unreliable", "flimsy", "overpriced", "badly-made"),
              "x": ("useless",)},
    },
    verbs={
        POS: ("loved", "really liked", "{be} impressed by", "{be} happy with",
              "{be} pleased with", "{be} delighted with",
              "{be} pleasantly surprised by"),
        NEG: ("hated", "disliked", "{be} disappointed by", "{be} let down by",
              "{be} unhappy with", "{be} annoyed by", "{be} frustrated by"),
    },
    again=("buy it again", "order another one", "buy this brand again"),
    gerunds=("buying it", "ordering it", "spending money on it"),
    worth=("the money", "the price", "the hype"),
    verdicts={
        POS: ("worth every penny", "money well spent", "a real bargain",
              "the best purchase I have made this year"),
        NEG: ("a complete waste of money", "a total disappointment",
              "the worst purchase I have made this year", "a rip-off"),
    },
    determiners=(("the", "", 6), ("its", "", 1), ("this {name}'s", "", 3)),
    past_share=0.45,
)

FILM_STORY = (
    aspect("plot", "gripping clever original tight",
           "predictable confusing thin far-fetched"),
    aspect("script", "witty sharp smart", "clumsy clichéd lazy"),
    aspect("dialogue", "witty natural", "clunky cheesy stilted"),
    aspect("characters", "believable likeable complex",
           "flat annoying one-dimensional", pl=True),
    aspect("twist", "clever surprising", "obvious silly"),
)
FILM_CAST = (
    aspect("acting", "convincing natural powerful",
           "wooden stiff over-the-top"),
    aspect("lead actor", "charismatic convincing", "wooden miscast"),
    aspect("supporting cast", "strong lively", "weak bland"),
)
FILM_CRAFT = (
    aspect("soundtrack", "haunting beautiful memorable",
           "intrusive grating repetitive"),
    aspect("cinematography", "beautiful striking", "flat dull murky",
           pos_x="stunning gorgeous"),
    aspect("pacing", "tight brisk", "slow sluggish uneven"),
    aspect("ending", "satisfying moving powerful", "rushed abrupt predictable"),
    aspect("direction", "confident assured", "sloppy heavy-handed"),
    aspect("editing", "tight slick", "choppy messy"),
    aspect("opening scene", "gripping striking", "slow confusing"),
)
FILM_FICTION_FACTS = facts(
    ("the cast had real chemistry", "the cast had no chemistry at all", POS),
    ("the dialogue felt natural", "the dialogue never felt natural", POS),
    ("the twist caught me completely off guard",
     "the twist did not surprise anyone", POS),
    ("the characters stayed with me for days",
     "none of the characters stayed with me", POS),
    ("the story hung together perfectly", "the story did not hang together",
     POS),
    ("the music drowned out the dialogue",
     "the music never drowned out the dialogue", NEG),
)
FILMS = Domain(
    name="films",
    kinds=(
        Kind(("comedy", "romantic comedy"), (
            aspect("jokes", "clever sharp fresh", "stale lame forced",
                   pl=True, pos_x="hilarious"),
            aspect("comic timing", "sharp precise", "clumsy sloppy"),
            aspect("punchlines", "clever witty", "predictable flat", pl=True),
            aspect("banter", "witty sparkling", "forced awkward"),
        ) + FILM_STORY + FILM_CAST, facts(
            ("the jokes landed every time", "none of the jokes landed", POS),
            ("the audience laughed all the way through",
             "nobody in the audience laughed", POS),
            ("I laughed until I cried", "I did not laugh once", POS),
        ) + FILM_FICTION_FACTS),
        Kind(("horror film", "slasher"), (
            aspect("scares", "effective genuine", "cheap predictable",
                   pl=True),
            aspect("atmosphere", "creepy tense eerie", "flat silly"),
            aspect("monster", "creepy memorable", "silly laughable"),
            aspect("jump scares", "effective clever", "cheap predictable",
                   pl=True),
            aspect("sound design", "immersive unsettling", "flat cheap"),
        ) + FILM_STORY + FILM_CAST, facts(
            ("I slept with the lights on afterwards",
             "I was not scared for a single second", POS),
            ("the tension never let up", "the tension did not build at all",
             POS),
        ) + FILM_FICTION_FACTS),
        Kind(("action film", "thriller", "spy thriller"), (
            aspect("fight scenes", "thrilling well-choreographed",
                   "messy confusing", pl=True),
            aspect("stunts", "daring convincing", "fake unconvincing",
                   pl=True, pos_x="spectacular"),
            aspect("car chases", "exciting inventive", "repetitive tedious",
                   pl=True),
            aspect("villain", "menacing memorable", "cartoonish forgettable"),
            aspect("special effects", "convincing seamless",
                   "cheap cheesy unconvincing", pl=True),
        ) + FILM_STORY + FILM_CAST, facts(
            ("the action scenes were hard to follow",
             "the action scenes were never hard to follow", NEG),
            ("the special effects looked cheap",
             "the special effects never looked cheap", NEG),
            ("I was on the edge of my seat",
             "I was never on the edge of my seat", POS),
        ) + FILM_FICTION_FACTS),
        Kind(("drama", "period drama", "biopic"), (
            aspect("performances", "powerful moving nuanced",
                   "wooden stiff flat", pl=True),
            aspect("lead actress", "luminous convincing", "miscast stiff"),
            aspect("costumes", "detailed lavish", "cheap tacky", pl=True,
                   pos_x="gorgeous"),
            aspect("screenplay", "thoughtful subtle", "clumsy heavy-handed"),
        ) + FILM_STORY + FILM_CAST, facts(
            ("the ending moved me to tears",
             "the ending did not move me at all", POS),
            ("the story stayed with me for days",
             "the story did not stay with me", POS),
        ) + FILM_FICTION_FACTS),
        Kind(("animated film", "cartoon"), (
            aspect("animation", "beautiful fluid", "cheap choppy"),
            aspect("voice acting", "expressive lively", "flat bored"),
            aspect("songs", "catchy charming", "forgettable annoying",
                   pl=True),
            aspect("humour", "clever warm", "childish crude"),
        ) + FILM_STORY, facts(
            ("the kids sat still for the whole film",
             "the kids could not sit still", POS),
            ("adults will enjoy it as much as children",
             "adults will not enjoy it at all", POS),
        )),
        Kind(("documentary",), (
            aspect("narration", "engaging calm", "dull monotonous"),
            aspect("footage", "fascinating striking", "grainy shaky",
                   pos_x="stunning"),
            aspect("research", "thorough careful", "shallow sloppy"),
            aspect("interviews", "revealing insightful", "dull pointless",
                   pl=True),
        ), facts(
            ("I learned something new every few minutes",
             "I did not learn anything new", POS),
            ("it presented both sides fairly",
             "it did not present both sides fairly", POS),
        )),
        Kind(("sci-fi film", "space epic"), (
            aspect("world-building", "rich imaginative", "thin confusing"),
            aspect("visual effects", "convincing dazzling", "dated cheap",
                   pl=True, pos_x="breathtaking"),
            aspect("ideas", "fresh ambitious", "tired muddled", pl=True),
        ) + FILM_STORY + FILM_CAST, FILM_FICTION_FACTS),
    ),
    aspects=FILM_CRAFT,
    facts=facts(
        ("I got bored halfway through", "I did not get bored for a second",
         NEG),
        ("the film dragged in the middle", "the film never dragged", NEG),
        ("I checked my phone every five minutes",
         "I did not check my phone once", NEG),
        ("the trailer gave away the whole film",
         "the trailer did not give anything away", NEG),
        ("I want to watch it again tonight", "I do not want to watch it again",
         POS),
        ("half the cinema walked out", "nobody walked out early", NEG),
        ("it held my attention throughout", "it did not hold my attention",
         POS),
    ),
    item_adjectives={
        POS: {"g": ("gripping", "moving", "charming", "clever",
                    "entertaining", "enjoyable"), "x": ()},
        NEG: {"g": ("boring", "tedious", "dull", "bloated", "pretentious"),
              "x": ("unwatchable",)},
    },
    verbs={
        POS: ("loved", "enjoyed", "adored", "really liked",
              "{be} impressed by", "{be} blown away by", "{be} moved by"),
        NEG: ("hated", "disliked", "{be} bored by", "{be} disappointed by",
              "{be} let down by", "{be} irritated by", "{be} annoyed by"),
    },
    again=("watch it again", "see it again", "watch the sequel"),
    gerunds=("watching it", "paying to see it", "renting it"),
    worth=("the ticket price", "the hype", "the wait"),
    verdicts={
        POS: ("a must-see", "worth the ticket price", "worth the hype",
              "the best film I have seen this year"),
        NEG: ("a waste of two hours", "a total mess",
              "the worst film I have seen this year", "a chore to sit through"),
    },
    determiners=(("the", "", 6), ("this {name}'s", "", 2),
                 ("the", " in this {name}", 2)),
    past_share=0.5,
)

RESTAURANT_SHARED = (
    aspect("waiter", "friendly attentive helpful", "rude slow inattentive"),
    aspect("waitress", "friendly attentive cheerful", "rude slow grumpy"),
    aspect("staff", "friendly welcoming attentive", "rude unfriendly slow",
           pl=True),
    aspect("service", "quick attentive efficient", "slow sloppy chaotic"),
    aspect("portions", "generous hearty", "tiny stingy", pl=True),
    aspect("prices", "fair reasonable", "steep inflated", pl=True),
    aspect("atmosphere", "cosy lively relaxed", "noisy cramped gloomy"),
    aspect("decor", "charming stylish", "tired dated tacky"),
    aspect("menu", "varied interesting", "limited confusing"),
    aspect("desserts", "tasty indulgent", "stale sickly", pl=True,
           pos_x="delicious"),
    aspect("wine list", "extensive well-chosen", "limited overpriced"),
    aspect("seating", "comfortable roomy", "cramped uncomfortable"),
    aspect("toilets", "clean", "dirty", pl=True, pos_x="spotless",
           neg_x="filthy"),
    aspect("cocktails", "creative well-balanced", "watery overpriced",
           pl=True),
    aspect("manager", "helpful gracious", "dismissive rude"),
)
RESTAURANTS = Domain(
    name="restaurants",
    kinds=(
        Kind(("pizzeria", "pizza place"), (
            aspect("pizza", "crispy fresh", "soggy greasy doughy"),
            aspect("crust", "crispy light", "soggy chewy burnt"),
            aspect("toppings", "generous fresh", "stingy sparse", pl=True),
            aspect("garlic bread", "buttery warm", "dry stale"),
            aspect("tiramisu", "creamy light", "soggy sickly"),
        ), facts(
            ("the base was burnt on every pizza",
             "not a single pizza came out burnt", NEG),
            ("they made my pizza exactly as I asked",
             "they did not make my pizza the way I asked", POS),
        )),
        Kind(("trattoria", "Italian restaurant"), (
            aspect("pasta", "fresh silky", "soggy overcooked bland"),
            aspect("risotto", "creamy rich", "gluey stodgy"),
            aspect("sauce", "rich fragrant", "watery bland"),
            aspect("tiramisu", "creamy light", "soggy sickly"),
            aspect("bread", "fresh warm", "dry stale"),
        ), facts(
            ("the pasta was clearly made that morning",
             "the pasta was not made in house", POS),
        )),
        Kind(("sushi bar", "Japanese restaurant"), (
            aspect("sushi", "fresh delicate", "rubbery soggy"),
            aspect("rice", "fluffy well-seasoned", "mushy dry"),
            aspect("miso soup", "warm comforting", "salty lukewarm"),
            aspect("tempura", "light crispy", "greasy soggy"),
            aspect("sashimi", "fresh delicate", "chewy stale"),
        ), facts(
            ("the fish tasted fresh", "the fish did not taste fresh", POS),
            ("the chef explained every piece",
             "the chef did not explain a single piece", POS),
        )),
        Kind(("curry house", "Indian restaurant"), (
            aspect("curry", "fragrant flavourful", "bland watery"),
            aspect("naan", "fluffy warm", "dry stale"),
            aspect("rice", "fluffy fragrant", "mushy dry"),
            aspect("spicing", "balanced complex", "harsh flat"),
            aspect("samosas", "crispy tasty", "greasy soggy", pl=True),
        ), facts(
            ("they adjusted the spice level for us",
             "they would not adjust the spice level", POS),
        )),
        Kind(("steakhouse", "grill"), (
            aspect("steak", "tender juicy", "tough chewy overcooked"),
            aspect("fries", "crispy golden", "soggy greasy", pl=True),
            aspect("burger", "juicy tasty", "dry greasy"),
            aspect("salad", "fresh crisp", "limp wilted"),
            aspect("peppercorn sauce", "rich creamy", "lumpy bland"),
        ), facts(
            ("my steak was cooked exactly as I asked",
             "my steak was not cooked the way I asked", POS),
        )),
        Kind(("café", "brunch spot", "bakery"), (
            aspect("coffee", "rich smooth strong", "bitter weak watery"),
            aspect("pastries", "flaky fresh", "stale dry", pl=True),
            aspect("eggs", "fluffy well-seasoned", "rubbery cold", pl=True),
            aspect("pancakes", "fluffy light", "stodgy rubbery", pl=True),
            aspect("cakes", "moist fresh", "dry stale", pl=True),
        ), facts(
            ("the croissants were still warm from the oven",
             "the croissants were not fresh", POS),
        )),
        Kind(("pub", "gastropub"), (
            aspect("beer selection", "varied interesting", "limited boring"),
            aspect("pie", "hearty rich", "soggy bland"),
            aspect("fish", "flaky fresh", "greasy soggy"),
            aspect("Sunday roast", "hearty generous", "dry stingy"),
            aspect("gravy", "rich thick", "lumpy watery"),
        ), facts(
            ("they found us a table by the fire",
             "they would not find us a table", POS),
        )),
    ),
    aspects=RESTAURANT_SHARED,
    facts=facts(
        ("the food arrived piping hot", "the food did not arrive hot", POS),
        ("we waited an hour for our starters",
         "we did not wait long for our food", NEG),
        ("the waiter forgot our drinks", "the waiter did not forget a thing",
         NEG),
        ("the bill had hidden charges", "the bill had no hidden charges", NEG),
        ("our table was ready when we arrived",
         "our table was not ready when we arrived", POS),
        ("they got our order wrong", "they did not get a single order wrong",
         NEG),
        ("the staff made us feel welcome",
         "the staff did not make us feel welcome", POS),
        ("we had to ask three times for water",
         "we never had to ask for anything", NEG),
        ("the kitchen ran out of half the menu",
         "the kitchen did not run out of anything", NEG),
        ("the chef happily adapted dishes for my allergy",
         "the chef would not adapt anything for my allergy", POS),
        ("my food came out cold", "nothing came out cold", NEG),
        ("we left feeling completely full", "we did not leave feeling full",
         POS),
        ("every dish tasted homemade", "no dish tasted homemade", POS),
        ("our plates were cleared before we had finished",
         "nobody rushed us", NEG),
    ),
    item_adjectives={
        POS: {"g": ("charming", "welcoming", "lovely", "friendly", "cosy"),
              "x": ()},
        NEG: {"g": ("overpriced", "dingy", "unwelcoming", "chaotic"),
              "x": ()},
    },
    verbs={
        POS: ("loved", "enjoyed", "really liked", "{be} impressed by",
              "{be} delighted with", "{be} happy with",
              "{be} pleasantly surprised by"),
        NEG: ("hated", "disliked", "{be} disappointed by", "{be} let down by",
              "{be} put off by", "{be} unhappy with", "{be} annoyed by"),
    },
    again=("go back", "eat here again", "book a table again"),
    gerunds=("eating here", "booking a table here", "choosing this place"),
    worth=("the price", "the wait", "the trip"),
    verdicts={
        POS: ("worth the trip", "worth every penny", "a hidden gem",
              "the best place I have eaten at all year"),
        NEG: ("a waste of an evening", "a rip-off", "a tourist trap",
              "the worst place I have eaten at all year"),
    },
    determiners=(("the", "", 5), ("their", "", 2), ("the", " here", 2),
                 ("the", " at this {name}", 1)),
    past_share=0.9,
)

SERVICE_SHARED = (
    aspect("customer service", "responsive helpful efficient",
           "unresponsive slow unhelpful", neg_x="useless"),
    aspect("support agent", "helpful patient polite knowledgeable",
           "rude unhelpful dismissive clueless"),
    aspect("refund", "quick prompt hassle-free", "slow delayed"),
    aspect("booking process", "simple smooth straightforward",
           "confusing clunky tedious"),
    aspect("website", "clear simple", "confusing buggy clunky"),
    aspect("prices", "fair transparent competitive", "steep inflated",
           pl=True),
    aspect("staff", "friendly professional courteous",
           "rude unprofessional careless", pl=True),
    aspect("communication", "clear prompt", "patchy confusing"),
    aspect("billing", "accurate transparent", "confusing inaccurate"),
    aspect("waiting time", "short", "long", neg_x="endless"),
    aspect("complaints process", "fair swift", "slow frustrating"),
    aspect("contract", "clear flexible", "restrictive confusing"),
)
SERVICES = Domain(
    name="services",
    kinds=(
        Kind(("airline",), (
            aspect("cabin crew", "friendly attentive", "rude grumpy"),
            aspect("seats", "comfortable roomy", "cramped uncomfortable",
                   pl=True),
            aspect("legroom", "generous", "tight"),
            aspect("check-in", "quick smooth", "slow chaotic"),
            aspect("boarding", "orderly smooth", "chaotic slow"),
            aspect("in-flight meal", "tasty filling", "bland soggy",
                   neg_x="inedible"),
        ), facts(
            ("the flight left on time", "the flight did not leave on time",
             POS),
            ("they lost my luggage", "they have never lost my luggage", NEG),
        )),
        Kind(("broadband provider", "internet provider"), (
            aspect("connection", "stable fast reliable",
                   "unreliable patchy slow"),
            aspect("router", "reliable compact", "unreliable flimsy"),
            aspect("installation", "quick tidy", "sloppy delayed"),
            aspect("engineer", "punctual skilled", "late careless"),
            aspect("speeds", "fast consistent", "slow inconsistent", pl=True),
        ), facts(
            ("the engineer turned up on time",
             "the engineer did not turn up on time", POS),
            ("the internet dropped every evening", "the internet never dropped",
             NEG),
        )),
        Kind(("courier", "delivery company"), (
            aspect("delivery", "fast prompt", "late slow"),
            aspect("driver", "careful polite", "careless rude"),
            aspect("tracking", "accurate detailed", "inaccurate vague"),
        ), facts(
            ("the parcel arrived on time", "the parcel did not arrive on time",
             POS),
            ("my parcel was left out in the rain",
             "my parcel was not left outside", NEG),
        )),
        Kind(("bank",), (
            aspect("app", "intuitive reliable", "buggy clunky"),
            aspect("branch staff", "helpful patient", "unhelpful impatient",
                   pl=True),
            aspect("fees", "fair low", "hidden steep", pl=True),
            aspect("online banking", "secure simple", "clunky confusing"),
        ), facts(
            ("they charged me twice", "they never overcharged me", NEG),
            ("my card was replaced within a day",
             "my card was not replaced for weeks", POS),
        )),
        Kind(("hotel", "guesthouse"), (
            aspect("room", "spacious quiet", "cramped noisy dirty",
                   pos_x="spotless"),
            aspect("beds", "comfortable", "lumpy uncomfortable", pl=True),
            aspect("breakfast", "generous tasty", "stale meagre"),
            aspect("reception staff", "welcoming helpful", "rude unhelpful",
                   pl=True),
            aspect("location", "convenient central", "remote inconvenient"),
        ), facts(
            ("the room was cleaned every day", "the room was not cleaned once",
             POS),
            ("they upgraded us without being asked",
             "they would not upgrade us even for a fee", POS),
        )),
        Kind(("gym", "fitness club"), (
            aspect("equipment", "modern well-maintained", "outdated broken"),
            aspect("classes", "fun varied", "crowded repetitive", pl=True),
            aspect("trainers", "knowledgeable motivating", "pushy clueless",
                   pl=True),
            aspect("changing rooms", "clean", "dirty cramped", pl=True,
                   pos_x="spotless"),
        ), facts(
            ("they cancelled my membership without any fuss",
             "they would not let me cancel my membership", POS),
        )),
        Kind(("cleaning company",), (
            aspect("cleaners", "thorough careful", "careless sloppy", pl=True),
        ), facts(
            ("the cleaners missed half the rooms",
             "the cleaners did not miss a single spot", NEG),
        )),
        Kind(("removal company",), (
            aspect("movers", "careful quick", "careless slow", pl=True),
        ), facts(
            ("the movers broke two of my chairs",
             "the movers did not break a thing", NEG),
        )),
        Kind(("hair salon", "barber"), (
            aspect("stylist", "talented friendly", "rushed careless"),
            aspect("haircut", "neat stylish", "uneven sloppy"),
        ), facts(
            ("my haircut looked exactly like the photo",
             "my haircut looked nothing like the photo", POS),
        )),
        Kind(("garage",), (
            aspect("mechanic", "honest knowledgeable", "dishonest clueless"),
            aspect("repair", "quick thorough", "shoddy slow"),
        ), facts(
            ("the final price matched the quote",
             "the final price did not match the quote", POS),
        )),
    ),
    aspects=SERVICE_SHARED,
    facts=facts(
        ("my refund arrived within two days", "my refund never arrived", POS),
        ("the agent solved my problem in minutes",
         "the agent did not solve my problem", POS),
        ("I was kept on hold for over an hour", "I was never kept on hold",
         NEG),
        ("someone answered my emails within an hour",
         "nobody answered my emails", POS),
        ("they cancelled my appointment without warning",
         "they never cancelled on me", NEG),
        ("they kept me updated at every step",
         "they did not keep me updated", POS),
        ("my issue was fixed on the first call",
         "my issue was not fixed even after five calls", POS),
        ("they honoured their guarantee without any fuss",
         "they would not honour their guarantee", POS),
    ),
    item_adjectives={
        POS: {"g": ("reliable", "professional", "efficient", "helpful"),
              "x": ()},
        NEG: {"g": ("unreliable", "unprofessional", "disorganised"),
              "x": ("useless",)},
    },
    verbs={
        POS: ("{be} impressed by", "{be} happy with", "{be} pleased with",
              "{be} grateful for", "really appreciated",
              "{be} delighted with"),
        NEG: ("{be} disappointed by", "{be} unhappy with",
              "{be} frustrated by", "{be} fed up with", "{be} let down by",
              "{be} annoyed by"),
    },
    again=("use them again", "book with them again", "go back to them"),
    gerunds=("signing up with them", "choosing them", "booking with them"),
    worth=("the money", "the fee", "the hassle"),
    verdicts={
        POS: ("worth every penny", "a lifesaver", "a pleasure to deal with",
              "the best company I have dealt with in years"),
        NEG: ("a total rip-off", "a nightmare to deal with",
              "the worst company I have dealt with in years",
              "a complete waste of money"),
    },
    determiners=(("the", "", 5), ("their", "", 3), ("this {name}'s", "", 2)),
    past_share=0.85,
)

DOMAINS = (PRODUCTS, FILMS, RESTAURANTS, SERVICES)


# --------------------------------------------------------------------------
# Clause building
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """A clause without sentence-initial capital or final punctuation.

    ``np`` is the same content as a noun phrase ("the slow service") for
    "despite ..." frames, or None when no such paraphrase exists.  ``topic``
    is the aspect noun and ``adjective`` the evaluative word, used to avoid
    "the pasta ..., but the pasta ..." and "not slow ..., but slow ...".
    """

    text: str
    polarity: int
    np: str | None = None
    topic: str = ""
    adjective: str = ""


@dataclass
class Ctx:
    """Everything one row is about: domain, kind, name of the thing, tense."""

    rng: random.Random
    domain: Domain
    kind: Kind
    name: str
    tense: str
    # Set once the name has been written, so that a sentence never says
    # "this phone's screen ..., but this phone's battery ...".
    name_used: bool = False

    @property
    def aspects(self) -> tuple[Aspect, ...]:
        return self.kind.aspects + self.domain.aspects

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.kind.facts + self.domain.facts


def new_ctx(rng: random.Random, domain: Domain) -> Ctx:
    kind = rng.choice(domain.kinds)
    tense = "past" if rng.random() < domain.past_share else "present"
    return Ctx(rng, domain, kind, rng.choice(kind.names), tense)


def be(ctx: Ctx, plural: bool, negated: bool = False) -> str:
    form = {("past", False): "was", ("past", True): "were",
            ("present", False): "is", ("present", True): "are"}[
                (ctx.tense, plural)]
    if not negated:
        return form
    # Mix contracted and full negation; both are common in reviews.
    return form + ("n't" if ctx.rng.random() < 0.5 else " not")


def article(phrase: str) -> str:
    """Prefix "a" or "an" by pronunciation of the first word."""
    word = phrase.split()[0].lower()
    vowel_sound = word[0] in "aeiou" and not word.startswith(("use", "uni",
                                                              "one", "eu"))
    return ("an " if vowel_sound or word.startswith("hon") else "a ") + phrase


def weighted(rng: random.Random, options: tuple) -> tuple:
    """Pick from (..., weight) tuples; the weight is the last element."""
    return rng.choices(options, weights=[o[-1] for o in options])[0]


def split_np(ctx: Ctx, asp: Aspect) -> tuple[str, str, str]:
    """Return (determiner, noun, suffix), e.g. ("this phone's", "battery", "").

    Kept apart so that a clause and its "despite" paraphrase can share the
    same determiner, and hence exactly the same words.
    """
    options = ctx.domain.determiners
    if ctx.name_used:
        options = tuple(o for o in options if "{name}" not in o[0] + o[1])
    det, suffix, _ = weighted(ctx.rng, options)
    if "{name}" in det + suffix:
        ctx.name_used = True
    return det.format(name=ctx.name), asp.noun, suffix.format(name=ctx.name)


def noun_phrase(ctx: Ctx, asp: Aspect) -> str:
    """"the battery", "this phone's battery", "the pasta here" ..."""
    det, noun, suffix = split_np(ctx, asp)
    return f"{det} {noun}{suffix}"


def pick_adjective(ctx: Ctx, adjectives: dict, polarity: int,
                   degree: str) -> tuple[str, bool]:
    """Return (adjective phrase, usable before a noun).

    ``degree`` sets the strength: "plain" (a bare gradable adjective,
    "slow"), "strong" ("very slow", "awful", "absolutely awful") or "down"
    ("a bit slow", "mediocre").  Aspect-specific adjectives are mixed with
    the general ones, which keep words such as "good" and "awful" frequent in
    every domain.
    """
    rng = ctx.rng
    own, general = adjectives[polarity], GENERAL[polarity]

    def choose(key: str, general_key: str | None = None) -> str:
        use_own = own.get(key) and rng.random() < OWN_ADJECTIVE_SHARE
        return rng.choice(own[key] if use_own
                          else general[general_key or key])

    if degree == "plain":
        return choose("g"), True
    if degree == "down":
        if rng.random() < 0.4:
            return rng.choice(general["w"]), True
        mod = rng.choice(DOWNTONERS[polarity])
        return f"{mod} {choose('g', 'd')}", mod in ATTRIBUTIVE_OK
    # "strong": an intensified gradable adjective or an extreme one, the
    # latter bare or with an intensifier that suits extremes.
    if rng.random() < 0.5:
        mod = rng.choice(INTENSIFIERS)
        return f"{mod} {choose('g')}", mod in ATTRIBUTIVE_OK
    adj = choose("x")
    if rng.random() < 0.5:
        return adj, True
    mod = rng.choice(EXTREME_INTENSIFIERS)
    return f"{mod} {adj}", mod in ATTRIBUTIVE_OK


def gradable(ctx: Ctx, adjectives: dict, polarity: int,
             own_share: float = OWN_ADJECTIVE_SHARE) -> str:
    """A plain gradable adjective, the only kind that negates cleanly."""
    own = adjectives[polarity]["g"]
    use_own = own and ctx.rng.random() < own_share
    return ctx.rng.choice(own if use_own else GENERAL[polarity]["g"])


def adjective_clause(ctx: Ctx, polarity: int, degree: str = "plain",
                     asp: Aspect | None = None) -> Clause:
    """"the battery was really impressive" (+ its NP paraphrase)."""
    asp = asp or ctx.rng.choice(ctx.aspects)
    adj, attributive = pick_adjective(ctx, asp.adjectives, polarity, degree)
    det, noun, suffix = split_np(ctx, asp)
    text = f"{det} {noun}{suffix} {be(ctx, asp.plural)} {adj}"
    np = f"{det} {adj} {noun}{suffix}" if attributive else None
    return Clause(text, polarity, np, asp.noun, adj.split()[-1])


def negated_adjective_clause(ctx: Ctx, polarity: int) -> Clause:
    """"the waiter wasn't rude at all" (positive), "hardly fresh" (negative)."""
    asp = ctx.rng.choice(ctx.aspects)
    adj = gradable(ctx, asp.adjectives, -polarity, NEGATED_OWN_SHARE)
    pattern = ctx.rng.choice(NEGATED_ADJECTIVE[polarity])
    text = pattern.format(subj=noun_phrase(ctx, asp), adj=adj,
                          be=be(ctx, asp.plural),
                          be_not=be(ctx, asp.plural, negated=True))
    return Clause(text, polarity, None, asp.noun, adj)


def item_clause(ctx: Ctx, polarity: int, degree: str = "plain") -> Clause:
    """A verdict on the thing itself: "this thriller was gripping"."""
    if ctx.name_used:
        # Naming the thing twice reads badly, and "it" could be misread as
        # the aspect of the other clause: talk about an aspect instead.
        return adjective_clause(ctx, polarity, degree)
    adj, _ = pick_adjective(ctx, ctx.domain.item_adjectives, polarity,
                            degree)
    ctx.name_used = True
    det = ctx.rng.choice(("this", "the"))
    text = f"{det} {ctx.name} {be(ctx, False)} {adj}"
    # No noun phrase: "despite this dull thriller, ..." reads oddly.
    return Clause(text, polarity, None, ctx.name, adj.split()[-1])


def fact_clause(ctx: Ctx, polarity: int, negated: bool | None = None
                ) -> Clause:
    """A concrete event; the negated form has the opposite polarity."""
    rng = ctx.rng
    if negated is None:
        negated = rng.random() < 0.35
    fact = rng.choice([f for f in ctx.facts
                       if (f.polarity == polarity) != negated])
    return Clause(fact.negated if negated else fact.text, polarity)


def experiencer(ctx: Ctx, third_person_only: bool = False) -> tuple:
    pool = EXPERIENCERS[6:] if third_person_only else EXPERIENCERS
    return ctx.rng.choice(pool)


def experience_clause(ctx: Ctx, polarity: int, negated: bool = False
                      ) -> Clause:
    """"my wife loved the soundtrack" / "I had no complaints about the X"."""
    rng = ctx.rng
    asp = rng.choice(ctx.aspects)
    who, be_past, have = experiencer(ctx)
    obj = noun_phrase(ctx, asp)
    if negated:
        verb = rng.choice(NEGATED_EXPERIENCE[polarity])
    elif rng.random() < 0.2:
        verb = rng.choice(IDIOMATIC_EXPERIENCE[polarity])
    else:
        verb = rng.choice(ctx.domain.verbs[polarity]) + " {obj}"
    text = f"{who} " + verb.format(be=be_past, have_p=have, obj=obj)
    return Clause(text, polarity, None, asp.noun)


def any_clause(ctx: Ctx, polarity: int, degree: str = "plain") -> Clause:
    """A clause for contrast rows; a share of them carries negation too.

    Verdicts on the whole thing ("this drama is unwatchable") are left out:
    conceded, they would still outweigh a remark on one aspect.
    """
    roll = ctx.rng.random()
    if roll < 0.55:
        return adjective_clause(ctx, polarity, degree)
    if roll < 0.70:
        return negated_adjective_clause(ctx, polarity)
    if roll < 0.88:
        return fact_clause(ctx, polarity)
    return experience_clause(ctx, polarity, ctx.rng.random() < 0.3)


# --------------------------------------------------------------------------
# Sentence frames
# --------------------------------------------------------------------------
# Each frame takes (ctx, polarity) and returns (body, end).  ``end`` is "."
# for a statement (the row's Style then picks ".", "!", "..." or nothing),
# "!", "?" or "?!" to keep as is, or "" when the body already ends with its
# own punctuation.  An empty body means the frame refused the combination it
# drew (e.g. the same adjective twice) and the caller draws again.


def two_aspects(ctx: Ctx) -> tuple[Aspect, Aspect]:
    first, second = ctx.rng.sample(ctx.aspects, 2)
    return first, second


def simple_copula(ctx, p):
    degree = ctx.rng.choice(("plain", "plain", "strong", "down"))
    return adjective_clause(ctx, p, degree).text, "."


def simple_reported(ctx, p):
    # Third-person (or first-person) opinion: "my brother said the X was Y".
    ctx.tense = "past"
    who = experiencer(ctx, third_person_only=ctx.rng.random() < 0.7)[0]
    verb = ctx.rng.choice(FIRST_PERSON_REPORTING if who in ("I", "we")
                          else REPORTING_VERBS)
    return f"{who} {verb} {adjective_clause(ctx, p).text}", "."


def simple_experience(ctx, p):
    return experience_clause(ctx, p).text, "."


def simple_fragment(ctx, p):
    # Telegraphic style: "Crispy fries and friendly staff."
    a, b = two_aspects(ctx)
    adj_a = pick_adjective(ctx, a.adjectives, p, "plain")[0]
    adj_b = pick_adjective(ctx, b.adjectives, p, "plain")[0]
    if adj_a == adj_b:
        return "", "."  # "bad screen and bad battery": rejected
    return f"{adj_a} {a.noun} and {adj_b} {b.noun}", ctx.rng.choice(".!")


def simple_list(ctx, p):
    aspects = ctx.rng.sample(ctx.aspects, 3)
    adjs = [pick_adjective(ctx, a.adjectives, p, "plain")[0] for a in aspects]
    if len(set(adjs)) < 3:
        return "", "."
    parts = [f"{adj} {a.noun}" for adj, a in zip(adjs, aspects, strict=True)]
    return f"{parts[0]}, {parts[1]} and {parts[2]}", "."


def simple_and(ctx, p):
    a, b = two_aspects(ctx)
    first = adjective_clause(ctx, p, asp=a)
    second = adjective_clause(ctx, p, ctx.rng.choice(("plain", "strong")),
                              asp=b)
    if first.adjective == second.adjective:
        return "", "."  # "... was good and ... was really good": rejected
    return f"{first.text} and {second.text}", "."


def simple_so_was(ctx, p):
    # "The pasta was delicious, and so was the tiramisu."
    a, b = two_aspects(ctx)
    first = adjective_clause(ctx, p, asp=a).text
    return f"{first}, and so {be(ctx, b.plural)} {noun_phrase(ctx, b)}", "."


def simple_item(ctx, p):
    adj, attributive = pick_adjective(ctx, ctx.domain.item_adjectives, p,
                                      ctx.rng.choice(("plain", "strong")))
    if not attributive:
        return "", "."  # "a so gripping thriller": rejected
    subj = ctx.rng.choice(("this", "it", "that"))
    return f"{subj} {be(ctx, False)} {article(adj)} {ctx.name}", "."


def simple_item_too(ctx, p):
    # "This phone is excellent, and the battery is long-lasting too."
    first = item_clause(ctx, p)
    second = adjective_clause(ctx, p)
    if first.adjective == second.adjective:
        return "", "."
    return f"{first.text}, and {second.text} too", "."


def simple_what_a(ctx, p):
    adj, attributive = pick_adjective(ctx, ctx.domain.item_adjectives, p,
                                      ctx.rng.choice(("plain", "strong")))
    if not attributive:
        return "", "."
    this = be(ctx, False)
    return f"what {article(adj)} {ctx.name} this {this}!", ""


def simple_fact(ctx, p):
    return fact_clause(ctx, p, negated=False).text, "."


def simple_verdict(ctx, p):
    subj = ctx.rng.choice(("it", f"this {ctx.name}", f"the {ctx.name}"))
    verdict = ctx.rng.choice(ctx.domain.verdicts[p])
    return f"{subj} {be(ctx, False)} {verdict}", "."


def simple_question(ctx, p):
    # Surprised rhetorical question: "How was the pasta this good?"
    asp = ctx.rng.choice(ctx.aspects)
    adj = gradable(ctx, asp.adjectives, p)
    how = ctx.rng.choice(("this", "so"))
    return f"how {be(ctx, asp.plural)} {noun_phrase(ctx, asp)} {how} {adj}", \
        ctx.rng.choice(("?", "?!"))


def simple_rating(ctx, p):
    asp = ctx.rng.choice(ctx.aspects)
    rating = ctx.rng.choice(RATINGS[p])
    return f"I would give {noun_phrase(ctx, asp)} {rating}", "."


def simple_again(ctx, p):
    rng = ctx.rng
    if p == POS:
        template = rng.choice(("I would happily {again}",
                               "I will definitely {again}",
                               "I would {again} in a heartbeat",
                               "we are already planning to {again}"))
        return template.format(again=rng.choice(ctx.domain.again)), "."
    template = rng.choice(("I regret {ger} more than I can say",
                           "I deeply regret {ger}",
                           "{ger} was a big mistake",
                           "I am annoyed at myself for {ger}"))
    return template.format(ger=rng.choice(ctx.domain.gerunds)), "."


SIMPLE_FRAMES = (
    (simple_copula, 6), (simple_reported, 2), (simple_experience, 3),
    (simple_fragment, 2), (simple_list, 1), (simple_and, 2),
    (simple_so_was, 1), (simple_item, 2), (simple_item_too, 1),
    (simple_what_a, 1), (simple_fact, 3), (simple_verdict, 1),
    (simple_question, 1), (simple_rating, 1), (simple_again, 1),
)


def neg_adjective(ctx, p):
    return negated_adjective_clause(ctx, p).text, "."


def neg_nothing_about(ctx, p):
    # "There was nothing impressive about the pasta" (negative) versus
    # "nothing disappointing about ..." (positive).
    asp = ctx.rng.choice(ctx.aspects)
    adj = gradable(ctx, asp.adjectives, -p, NEGATED_OWN_SHARE)
    there = "there " + be(ctx, False)
    return f"{there} nothing {adj} about {noun_phrase(ctx, asp)}", "."


def neg_experience(ctx, p):
    return experience_clause(ctx, p, negated=True).text, "."


def neg_fact(ctx, p):
    return fact_clause(ctx, p, negated=True).text, "."


def neg_recommend(ctx, p):
    # "can't recommend ... enough" is praise; "can't recommend" is not.
    options = {
        POS: ("I would not hesitate to recommend this {name}",
              "I can't recommend this {name} enough",
              "I cannot recommend this {name} highly enough",
              "I would never hesitate to recommend this {name}"),
        NEG: ("I would not recommend this {name}",
              "I can't recommend this {name} to anyone",
              "I would never recommend this {name} to anyone",
              "I cannot recommend this {name} at all"),
    }
    return ctx.rng.choice(options[p]).format(name=ctx.name), "."


def neg_worth(ctx, p):
    subj = ctx.rng.choice(("it", f"this {ctx.name}", f"the {ctx.name}"))
    verb = be(ctx, False)
    worth = ctx.rng.choice(ctx.domain.worth)
    if p == NEG:
        body = ctx.rng.choice((f"{subj} {verb} not worth {worth}",
                               f"{subj} {verb} hardly worth {worth}",
                               f"{subj} {be(ctx, False, True)} worth it"))
    else:
        waste = ctx.rng.choice(("money", "time"))
        body = ctx.rng.choice((f"{subj} {verb} not a waste of {waste} at all",
                               f"{subj} {verb} by no means a waste of {waste}",
                               f"{subj} {be(ctx, False, True)} a waste of "
                               f"{waste} in the slightest"))
    return body, "."


def neg_question(ctx, p):
    # "Would I go back? Absolutely." vs "Absolutely not."
    rng = ctx.rng
    if rng.random() < 0.6:
        question = f"Would I {rng.choice(ctx.domain.again)}?"
    else:
        question = f"Was it worth {rng.choice(ctx.domain.worth)}?"
    return f"{question} {rng.choice(QA_ANSWERS[p])}", ""


def neg_future(ctx, p):
    again = ctx.rng.choice(ctx.domain.again)
    if p == POS:
        body = ctx.rng.choice((f"I can't wait to {again}",
                               f"I cannot wait to {again}",
                               f"there is no doubt I will {again}"))
    else:
        body = ctx.rng.choice((f"I will never {again}",
                               f"I will not {again}, ever",
                               f"there is no way I will {again}"))
    return body, "."


def neg_no_flip(ctx, p):
    # Negators that do NOT flip polarity: "I could not believe how rude the
    # waiter was" is negative.  Teaches that "not" is no label by itself.
    asp = ctx.rng.choice(ctx.aspects)
    adj = gradable(ctx, asp.adjectives, p)
    ctx.tense = "past"
    lead = ctx.rng.choice(("I could not believe", "I could hardly believe",
                           "I still can't get over", "I can't get over"))
    return f"{lead} how {adj} {noun_phrase(ctx, asp)} {be(ctx, asp.plural)}", \
        "."


def neg_not_a_single(ctx, p):
    # "Not a single part of the film was boring" (positive).
    whole = ctx.rng.choice(("moment of", "scene in", "thing about")
                           if ctx.domain is FILMS else
                           ("thing about", "aspect of"))
    adj = gradable(ctx, ctx.domain.item_adjectives, -p, NEGATED_OWN_SHARE)
    return f"not a single {whole} the {ctx.name} {be(ctx, False)} {adj}", "."


def neg_nobody(ctx, p):
    # "Nobody in our group liked the pasta" / "... complained about ...".
    asp = ctx.rng.choice(ctx.aspects)
    who = ctx.rng.choice(("nobody in our group", "no one I know",
                          "nobody in my family", "none of my friends"))
    verb = ctx.rng.choice({NEG: ("liked", "enjoyed", "had a good word for",
                                 "was impressed by"),
                           POS: ("complained about", "had a bad word for",
                                 "was disappointed by", "had a problem with")
                           }[p])
    return f"{who} {verb} {noun_phrase(ctx, asp)}", "."


NEGATION_FRAMES = (
    (neg_adjective, 4), (neg_nothing_about, 1), (neg_experience, 5),
    (neg_fact, 5), (neg_recommend, 2), (neg_worth, 2), (neg_question, 2),
    (neg_future, 1), (neg_no_flip, 2), (neg_not_a_single, 1),
    (neg_nobody, 1),
)


def render_contrast(frame: str, conceded: Clause, main: Clause,
                    use_np: bool = True) -> str:
    """Fill a contrast frame; "despite" takes the clause's noun phrase."""
    a_np = conceded.np if use_np and conceded.np else \
        f"the fact that {conceded.text}"
    return frame.format(a=conceded.text, b=main.text, a_np=a_np)


def bag_of_words(text: str) -> list[str]:
    return sorted(re.findall(r"[\w'-]+", text.lower()))


# --------------------------------------------------------------------------
# Styling: openers, casing, punctuation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    opener: str
    lowercase: bool
    punct: str


def pick_style(rng: random.Random, opener_rate: float) -> Style:
    opener = rng.choice(OPENERS) if rng.random() < opener_rate else ""
    punct = rng.choices((".", "!", "!!", "...", ""),
                        weights=(70, 14, 3, 5, 8))[0]
    return Style(opener, rng.random() < 0.07, punct)


def finish(body: str, end: str, style: Style) -> str:
    """Apply opener, sentence-initial casing and final punctuation."""
    text = f"{style.opener} {body}" if style.opener else body
    if end == ".":
        text += style.punct
    else:
        text += end  # "!", "?" or "?!" are kept as the frame chose them
    # Casual reviewers sometimes skip the capital; "I" is never lowered.
    starts_with_i = text.startswith(("I ", "I'"))
    if style.lowercase and not starts_with_i:
        text = text[0].lower() + text[1:]
    else:
        text = text[0].upper() + text[1:]
    return " ".join(text.split())


# --------------------------------------------------------------------------
# Corpus assembly
# --------------------------------------------------------------------------


def core(text: str) -> str:
    """Text without opener, casing and punctuation, used to reject rows.

    Rows that differ only in decoration ("Okay, the X was Y!" and "The X was
    Y.") would leak from the training into the test split, so they count as
    duplicates.
    """
    lowered = text.lower()
    for opener in OPENERS:
        if lowered.startswith(opener.lower() + " "):
            lowered = lowered[len(opener) + 1:]
            break
    return " ".join(re.findall(r"[\w'-]+", lowered))


def acceptable(text: str, seen: dict) -> bool:
    return (core(text) not in seen
            and MIN_WORDS <= len(text.split()) <= MAX_WORDS)


def choose_frame(rng: random.Random, frames: tuple):
    return rng.choices([f for f, _ in frames],
                       weights=[w for _, w in frames])[0]


def single_row(rng: random.Random, domain: Domain, frames: tuple,
               polarity: int) -> str:
    ctx = new_ctx(rng, domain)
    body, end = choose_frame(rng, frames)(ctx, polarity)
    if not body:  # the frame refused this combination; caller retries
        return ""
    return finish(body, end, pick_style(rng, 0.25 if end == "." else 0.0))


def clause_pair(ctx: Ctx, degrees: tuple[str, str]) -> tuple[Clause, Clause]:
    """A positive and a negative clause about different aspects."""
    while True:
        pos = any_clause(ctx, POS, degrees[0])
        neg = any_clause(ctx, NEG, degrees[1])
        # Substring test: also catches a fact or an item name that mentions
        # the other clause's aspect ("the waiter forgot ..." + "the waiter").
        clash = (pos.topic and pos.topic in neg.text) or \
            (neg.topic and neg.topic in pos.text) or \
            (pos.adjective and pos.adjective == neg.adjective)
        if not clash:
            return pos, neg


def contrast_pair(rng: random.Random, domain: Domain) -> list[tuple]:
    """The same two clauses and connective, each clause once as main clause.

    Both rows contain the same multiset of words but opposite labels.  The
    two clauses have comparable strength (never "slightly" against
    "absolutely"), so neither reading is ambiguous.
    """
    ctx = new_ctx(rng, domain)
    degrees = rng.choices((("plain", "plain"), ("strong", "strong"),
                           ("down", "down")), weights=(65, 22, 13))[0]
    pos, neg = clause_pair(ctx, degrees)
    frame = rng.choice(CONTRAST_FRAMES)
    style = pick_style(rng, 0.12 if frame.startswith("{") else 0.0)
    pair = [render_contrast(frame, neg, pos), render_contrast(frame, pos, neg)]
    if bag_of_words(pair[0]) != bag_of_words(pair[1]):
        # A noun phrase drops the verb ("the slow refund" vs "the refund was
        # slow"), so "despite" + NP keeps the bags equal only when both
        # clauses have one and share the verb form; otherwise spell both
        # out as "despite the fact that ...".
        pair = [render_contrast(frame, neg, pos, use_np=False),
                render_contrast(frame, pos, neg, use_np=False)]
    assert bag_of_words(pair[0]) == bag_of_words(pair[1]), pair
    return [(finish(pair[0], ".", style), POS),
            (finish(pair[1], ".", style), NEG)]


def mixed_row(rng: random.Random, domain: Domain, polarity: int) -> str:
    """A mild concession outweighed by a strong main clause."""
    ctx = new_ctx(rng, domain)
    a_asp, b_asp = two_aspects(ctx)
    # The weak side is down-toned or merely plain: if it were always
    # down-toned, "slightly" or "mediocre" would become cues for the
    # *opposite* label.
    weak = adjective_clause(ctx, -polarity, rng.choice(("down", "plain")),
                            asp=a_asp)
    strong = adjective_clause(ctx, polarity, "strong", asp=b_asp)
    frame = rng.choice(CONTRAST_FRAMES)
    style = pick_style(rng, 0.12 if frame.startswith("{") else 0.0)
    return finish(render_contrast(frame, weak, strong), ".", style)


def build_rows(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """All rows as (text, label, domain, family), in their final order."""
    # core(text) -> (text, label, domain, family); a dict keeps insertion
    # order, unlike a set, so the output does not depend on string hashing.
    seen: dict[str, tuple] = {}

    def add(text: str, label: int, domain: Domain, family: str) -> None:
        seen[core(text)] = (text, LABEL[label], domain.name, family)

    for domain in DOMAINS:
        for family, frames in (("simple", SIMPLE_FRAMES),
                               ("negation", NEGATION_FRAMES)):
            for polarity in (POS, NEG):
                for _ in range(QUOTAS[family] // 2):
                    text = single_row(rng, domain, frames, polarity)
                    while not acceptable(text, seen):
                        text = single_row(rng, domain, frames, polarity)
                    add(text, polarity, domain, family)
        for _ in range(QUOTAS["contrast"]):
            pair = contrast_pair(rng, domain)
            while not (all(acceptable(t, seen) for t, _ in pair)
                       and core(pair[0][0]) != core(pair[1][0])):
                pair = contrast_pair(rng, domain)
            for text, label in pair:
                add(text, label, domain, "contrast")
        for polarity in (POS, NEG):
            for _ in range(QUOTAS["mixed"] // 2):
                text = mixed_row(rng, domain, polarity)
                while not acceptable(text, seen):
                    text = mixed_row(rng, domain, polarity)
                add(text, polarity, domain, "mixed")

    rows = list(seen.values())
    # Shuffle so that pairs and families are not adjacent in the file.
    rng.shuffle(rows)
    return rows


def main() -> None:
    rows = build_rows(random.Random(SEED))
    for text, *_ in rows:
        assert "\t" not in text and "\n" not in text, text
    # The family is only reported, not written: the TSV keeps the three
    # public columns.
    lines = ["text\tlabel\tdomain"] + ["\t".join(r[:3]) for r in rows]
    OUT_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8",
                        newline="\n")
    print(f"wrote {len(rows)} rows to {OUT_PATH}")
    families = Counter(family for *_, family in rows)
    for family, count in sorted(families.items()):
        print(f"  {family:9s} {count:5d}")


if __name__ == "__main__":
    main()
