"""A pool of realistic, made-up full names: common first names by sex x common surnames.

Used twice: to name the people of the synthetic lab world, and to draw the distractor names
that fill the IDIA candidate list up to 1,000 (as in "Does CLIP Know My Face?": common first
names x common surnames, equal by sex, fixed seed).

Where the pool comes from: hand-compiled for this project, not a census extract. The first
names open with the most popular recent US baby names (the Social Security Administration's
top lists: Emma, Olivia, ... / Liam, Noah, ...) followed by common names of Europe, the
Middle East, South and East Asia and Africa; the surnames are common surnames grouped by
region (English-speaking, Spanish and Portuguese, German and Dutch, French and Italian,
Central and Eastern European, Nordic, Asian, Middle Eastern and African). The paper draws its
distractors from the most common names of the population under test; an audit of another
population should bring its own list (`load_names_file`, `python -m leakage idia --names-file`).

Sampling is a lazily evaluated random permutation of each sex's pool, so it is exact (no
repeats, no rejection loops near capacity), deterministic for a seed, and prefix-stable: the
first k names drawn for n > k are the names drawn for k.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "female": (
        "Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Harper",
        "Evelyn", "Abigail", "Emily", "Elizabeth", "Sofia", "Ella", "Madison", "Scarlett",
        "Victoria", "Aria", "Grace", "Chloe", "Camila", "Penelope", "Layla", "Lillian", "Nora",
        "Zoë", "Mila", "Hannah", "Lily", "Eleanor", "Natalie", "Luna", "Savannah", "Leah",
        "Stella", "Hazel", "Ellie", "Audrey", "Violet", "Claire", "Bella", "Aurora", "Lucy",
        "Anna", "Samantha", "Caroline", "Aaliyah", "Allison", "Maya", "Sarah", "Madeline",
        "Ariana", "Elena", "Gabriella", "Naomi", "Alice", "Sadie", "Hailey", "Eva", "Emilia",
        "Autumn", "Piper", "Ruby", "Willow", "Cora", "Lydia", "Melanie", "Gianna", "Isabelle",
        "Julia", "Valentina", "Clara", "Vivian", "Brielle", "Delilah", "Isla", "Katherine",
        "Sophie", "Josephine", "Ivy", "Jade", "Maria", "Natalia", "Annabelle", "Faith",
        "Alexandra", "Ximena", "Ashley", "Brianna", "Mary", "Athena", "Andrea", "Leilani",
        "Jasmine", "Margaret", "Alyssa", "Norah", "Eliza", "Rose", "Melody", "Alina", "Isabel",
        "Laura", "Louise", "Ingrid", "Astrid", "Freya", "Greta", "Heidi", "Katarina",
        "Magdalena", "Agnieszka", "Zofia", "Ewa", "Olga", "Irina", "Svetlana", "Natasha",
        "Tatiana", "Yasmin", "Fatima", "Aisha", "Leila", "Amira", "Priya", "Ananya", "Meera",
        "Aiko", "Yuki", "Mei", "Hana", "Lucía", "Carmen", "Pilar", "Inés", "Marta", "Beatriz",
        "Renée", "Chiara", "Giulia", "Francesca", "Elisa", "Noémie", "Amélie", "Camille",
        "Manon", "Léa", "Joana", "Siobhan", "Niamh", "Aoife", "Saoirse", "Sinéad", "Bridget",
        "Fiona", "Catriona", "Sigrid", "Linnea", "Maja", "Elin", "Annika", "Birgit", "Petra",
        "Monika", "Sabine", "Ursula", "Dorothy", "Helen", "Ruth", "Susan", "Linda", "Karen",
        "Nancy", "Patricia", "Barbara", "Jennifer", "Jessica", "Rachel", "Rebecca", "Megan",
        "Nicole", "Stephanie", "Amanda", "Michelle", "Melissa", "Deborah", "Christine",
        "Diana", "Monica", "Veronica", "Teresa", "Gloria", "Paula", "Sandra", "Beatrice",
        "Adaeze", "Chiamaka", "Amara", "Zainab", "Wanjiru", "Thandiwe", "Nadia", "Daniela",
    ),
    "male": (
        "Liam", "Noah", "Oliver", "Elijah", "William", "James", "Benjamin", "Lucas", "Henry",
        "Alexander", "Mason", "Michael", "Ethan", "Daniel", "Jacob", "Logan", "Jackson", "Levi",
        "Sebastian", "Mateo", "Jack", "Owen", "Theodore", "Aiden", "Samuel", "Joseph", "John",
        "David", "Wyatt", "Matthew", "Luke", "Asher", "Carter", "Julian", "Grayson", "Leo",
        "Gabriel", "Isaac", "Lincoln", "Anthony", "Hudson", "Dylan", "Ezra", "Thomas",
        "Charles", "Christopher", "Josiah", "Isaiah", "Andrew", "Elias", "Joshua", "Nathan",
        "Caleb", "Ryan", "Adrian", "Miles", "Eli", "Nolan", "Christian", "Aaron", "Cameron",
        "Ezekiel", "Colton", "Luca", "Landon", "Hunter", "Jonathan", "Santiago", "Axel",
        "Easton", "Cooper", "Jeremiah", "Roman", "Connor", "Robert", "Ian", "Carson",
        "Leonardo", "Nicholas", "Dominic", "Austin", "Everett", "Xavier", "Kai", "José", "Adam",
        "Wesley", "Silas", "Bennett", "Declan", "Weston", "Evan", "Emmett", "Micah", "Damian",
        "Harrison", "Amir", "Jason", "Giovanni", "Vincent", "Chase", "Diego", "Nathaniel",
        "Jonah", "Tyler", "Cole", "George", "Milo", "Zachary", "Luis", "Jasper", "Gavin",
        "Calvin", "Juan", "Maxwell", "Carlos", "Emmanuel", "Lorenzo", "Ivan", "Jude", "Kevin",
        "Malachi", "Elliott", "Arthur", "Thiago", "Brandon", "Justin", "Theo", "Enzo", "Dean",
        "Finn", "Antonio", "Tristan", "Graham", "Miguel", "Timothy", "Alan", "Edward", "Leon",
        "Eric", "Victor", "Abraham", "Nicolas", "Jesse", "Patrick", "Joel", "Richard", "Grant",
        "Peter", "Oscar", "Lukas", "Felix", "Marcus", "Jeremy", "Mark", "Rafael", "Simon",
        "Paul", "Omar", "Louis", "Tobias", "Brian", "Walter", "Malcolm", "Martin", "Francisco",
        "Lars", "Sven", "Björn", "Magnus", "Anders", "Henrik", "Johan", "Nils", "Erik", "Klaus",
        "Jürgen", "Stefan", "Wolfgang", "Dieter", "Franz", "Hans", "Piotr", "Tomasz",
        "Krzysztof", "Marek", "Pavel", "Dmitri", "Sergei", "Mikhail", "Andrei", "Nikolai",
        "Yusuf", "Mehmet", "Ahmed", "Mohammed", "Hassan", "Tariq", "Rahul", "Arjun", "Vikram",
        "Ravi", "Hiroshi", "Kenji", "Takeshi", "Wei", "Jun", "Pablo", "Javier", "Álvaro",
        "Sergio", "Raúl", "Joaquín", "Marco", "Giuseppe", "Francesco", "Alessandro", "Stefano",
        "Pierre", "Étienne", "Julien", "Mathieu", "François", "João", "Tiago", "Seán", "Cian",
        "Ciarán", "Eoin", "Hamish", "Angus", "Callum", "Søren", "Chinedu", "Kwame", "Kofi",
    ),
}

LAST_NAMES: tuple[str, ...] = (
    # English-speaking world
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Campbell", "Mitchell", "Carter", "Roberts", "Phillips",
    "Evans", "Turner", "Parker", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook",
    "Rogers", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Cox",
    "Ward", "Richardson", "Watson", "Brooks", "Wood", "Bennett", "Gray", "Hughes", "Price",
    "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Fisher", "Simmons",
    "Patterson", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "West", "Cole",
    "Hayes", "Bryant", "Gibson", "Ellis", "Stevens", "Murray", "Ford", "Marshall", "Owens",
    "Harrison", "McDonald", "Woods", "Kennedy", "Wells", "Freeman", "Webb", "Tucker", "Burns",
    "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Shaw", "Snyder", "Dixon",
    "Hunt", "Holmes", "Palmer", "Robertson", "Boyd", "Stone", "Fox", "Warren", "Mills",
    "Ferguson", "Nichols", "Weaver", "Gardner", "Payne", "Dunn", "Spencer", "Hawkins",
    "Arnold", "Pierce", "Hart", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong",
    "Carroll", "Andrews", "Matthews", "Lawrence", "Fraser", "O'Brien", "O'Connor", "Byrne",
    "Walsh", "O'Sullivan", "McCarthy", "Doyle", "Kavanagh", "Fitzgerald", "MacLeod",
    # Spanish and Portuguese
    "Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Sanchez",
    "Ramirez", "Torres", "Flores", "Rivera", "Gomez", "Diaz", "Cruz", "Reyes", "Morales",
    "Gutierrez", "Ortiz", "Ramos", "Chavez", "Mendoza", "Ruiz", "Alvarez", "Castillo",
    "Jiménez", "Romero", "Moreno", "Herrera", "Medina", "Aguilar", "Castro", "Fernández",
    "Vargas", "Guzmán", "Méndez", "Muñoz", "Salazar", "Navarro", "Delgado", "Pereira",
    "Oliveira", "Ferreira", "Almeida", "Carvalho", "Ribeiro", "Sousa", "Barbosa", "Costa",
    "Silva", "Santos",
    # German, Dutch, Belgian
    "Müller", "Schneider", "Fischer", "Weber", "Becker", "Schulz", "Wolf", "Schröder",
    "Neumann", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Werner",
    "Krause", "Lehmann", "Köhler", "Adler", "Bauer", "Richter", "Klein", "Schwarz", "Meyer",
    "Wagner", "de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit",
    "Meijer", "de Boer", "Mulder", "Bos", "Vos", "Peeters", "Janssens", "Maes", "Mertens",
    "Willems", "Goossens", "Wouters",
    # French and Italian
    "Dubois", "Durand", "Leroy", "Moreau", "Laurent", "Lefèvre", "Girard", "Bonnet",
    "Dupont", "Lambert", "Fontaine", "Rousseau", "Rossi", "Russo", "Ferrari", "Esposito",
    "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti",
    "De Luca", "Giordano", "Mancini", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Santoro",
    "Rinaldi", "Caruso", "Vitale", "Coppola", "D'Angelo",
    # Central and Eastern Europe
    "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
    "Zieliński", "Szymański", "Woźniak", "Mazur", "Krawczyk", "Novák", "Svoboda", "Dvořák",
    "Procházka", "Horváth", "Nagy", "Kovács", "Szabó", "Tóth", "Varga", "Molnár", "Ivanov",
    "Smirnov", "Kuznetsov", "Popov", "Petrov", "Sokolov", "Volkov", "Lebedev", "Novikov",
    "Pavlov", "Papadopoulos", "Georgiou",
    # Nordic
    "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
    "Sørensen", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Persson",
    "Lindberg", "Lindqvist", "Berg", "Haugen", "Korhonen", "Virtanen", "Mäkinen", "Laine",
    # East and South Asia
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
    "Xu", "Lin", "Nguyen", "Tran", "Pham", "Kim", "Lee", "Park", "Choi", "Kang", "Yoon",
    "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Mehta", "Reddy", "Iyer", "Nair", "Rao",
    "Kapoor", "Das",
    # Middle East and Africa
    "Khan", "Ali", "Haddad", "Nasser", "Mansour", "Saleh", "Aziz", "Rahman", "Hossain",
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Okafor", "Adeyemi", "Mensah",
    "Okonkwo", "Diallo", "Traoré", "Kamau", "Mwangi", "Otieno", "Abebe", "Nkosi", "Dlamini",
)

SEXES: tuple[str, ...] = ("female", "male")
_LAST_KEYS = frozenset(last.casefold() for last in LAST_NAMES)
_FIRST_KEYS = {sex: frozenset(first.casefold() for first in firsts) for sex, firsts in FIRST_NAMES.items()}


def _key(name: str) -> str:
    """Case- and spacing-insensitive comparison key of a full name."""
    return " ".join(name.split()).casefold()


def _pool_size(sex: str) -> int:
    return len(FIRST_NAMES[sex]) * len(LAST_NAMES)


def _full_name(sex: str, position: int) -> str:
    first, last = divmod(position, len(LAST_NAMES))
    return f"{FIRST_NAMES[sex][first]} {LAST_NAMES[last]}"


def _in_pool(sex: str, key: str) -> bool:
    first, _, last = key.partition(" ")
    return first in _FIRST_KEYS[sex] and last in _LAST_KEYS


def _lazy_permutation(size: int, rng: random.Random) -> Iterator[int]:
    """A uniformly random permutation of range(size), one element at a time.

    Fisher-Yates on a virtual array whose moved entries live in a dict, so drawing k elements
    costs O(k) time and memory whatever the size, and the first k never depend on how many
    more are drawn later.
    """
    moved: dict[int, int] = {}
    for i in range(size):
        j = rng.randrange(i, size)
        yield moved.get(j, j)
        moved[j] = moved.get(i, i)


def _sample(n: int, seed: int, exclude: Iterable[str], sexes: tuple[str, ...], stream: str) -> list[tuple[str, str]]:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not sexes or len(set(sexes)) != len(sexes):
        raise ValueError(f"sexes must be a non-empty sequence without repeats, got {sexes!r}")
    unknown = [sex for sex in sexes if sex not in FIRST_NAMES]
    if unknown:
        raise ValueError(f"unknown sex {unknown[0]!r}; known: {', '.join(FIRST_NAMES)}")

    excluded = {_key(name) for name in exclude}
    # Position i goes to sexes[i % len(sexes)], so the split is balanced and prefix-stable.
    wanted = {sex: n // len(sexes) + (1 if i < n % len(sexes) else 0) for i, sex in enumerate(sexes)}
    for sex in sexes:
        available = _pool_size(sex) - sum(_in_pool(sex, key) for key in excluded)
        if wanted[sex] > available:
            raise ValueError(
                f"cannot draw {n} unique names: that needs {wanted[sex]} {sex} names but the pool has "
                f"{available} left ({len(FIRST_NAMES[sex])} first names x {len(LAST_NAMES)} surnames, "
                f"minus excluded names)"
            )

    # One stream per sex (string seeds are hashed deterministically by random.Random).
    orders = {sex: _lazy_permutation(_pool_size(sex), random.Random(f"{stream}:{seed}:{sex}")) for sex in sexes}
    names: list[tuple[str, str]] = []
    for i in range(n):
        sex = sexes[i % len(sexes)]
        name = _full_name(sex, next(orders[sex]))
        while _key(name) in excluded:
            name = _full_name(sex, next(orders[sex]))
        names.append((name, sex))
    return names


def sample_names(
    n: int, seed: int, exclude: Iterable[str] = (), sexes: Iterable[str] = SEXES
) -> list[tuple[str, str]]:
    """n unique full names "First Last" with their sex, alternating over `sexes`.

    Deterministic for a seed and prefix-stable (the first k of n names are the names for k).
    Names in `exclude` are never returned (compared case-insensitively). Raises ValueError when
    the pool cannot give n names.
    """
    return _sample(n, seed, exclude, tuple(sexes), stream="people")


def sample_distractors(n: int, seed: int, exclude: Iterable[str] = ()) -> list[str]:
    """n unique made-up full names, equal by sex, for filling an IDIA candidate list.

    Same rules as `sample_names`, but drawn from a separate random stream: with the same seed
    the distractors are not the lab world's people in the same order.
    """
    return [name for name, _ in _sample(n, seed, exclude, SEXES, stream="distractors")]


def load_names_file(path: str | os.PathLike) -> tuple[str, ...]:
    """Full names from a text file, one per line, for use as IDIA distractors.

    UTF-8; blank lines and lines starting with ``#`` are skipped; inner whitespace is
    collapsed; repeats (compared case-insensitively) are kept once, in first-seen order.
    Raises ValueError, naming the file, when it holds no name.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"names file not found: {path}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"names file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    names: dict[str, str] = {}
    for line in text.splitlines():
        name = " ".join(line.split())
        if name and not name.startswith("#"):
            names.setdefault(_key(name), name)
    if not names:
        raise ValueError(f"names file {path} holds no names (one full name per line)")
    return tuple(names.values())


def sample_from_names(pool: Sequence[str], n: int, seed: int, exclude: Iterable[str] = ()) -> list[str]:
    """n unique names drawn at random from a given list (e.g. a user's names file).

    Deterministic for a seed; names in `exclude` (the people under test) are never
    returned, compared case-insensitively. Raises ValueError when the list has fewer than
    n names left after the exclusion.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    excluded = {_key(name) for name in exclude}
    unique: dict[str, str] = {}
    for name in pool:
        key = _key(name)
        if key not in excluded:
            unique.setdefault(key, " ".join(name.split()))
    available = list(unique.values())
    if n > len(available):
        raise ValueError(f"the names list has {len(available)} usable distractor names (after removing the people "
                         f"under test and repeats) but {n} are needed")
    return random.Random(f"distractors-from-list:{seed}").sample(available, n)
