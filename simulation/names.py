"""Word lists for the synthetic book of business.

Kept apart from the generator so ``book.py`` reads as the model of a customer base (who is
happy, who renews, who escalates) rather than as a wall of strings. Everything here is plain
data; the generator alone decides how it is sampled, so determinism lives in one place.
"""

from __future__ import annotations

# Our own company's domain for CSM/rep emails. A reserved ``.example`` TLD so a demo wired to a
# real Slack or email adapter can never reach a real person by accident.
VENDOR_DOMAIN = "vendor.example"

TEAMS_CSM: tuple[str, ...] = ("team-north", "team-south", "pilot")
"""CSM teams; "pilot" is deliberately the smallest, it is the rollout scope of the demo."""

TEAMS_REP: tuple[str, ...] = ("team-north", "team-south")

FIRST_NAMES: tuple[str, ...] = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sophia", "Mateo", "Isabella", "Ethan",
    "Mia", "James", "Amelia", "Benjamin", "Harper", "Elijah", "Evelyn", "Daniel", "Abigail",
    "Henry", "Emily", "Alexander", "Ella", "Samuel", "Grace", "David", "Chloé", "Joseph",
    "Zoë", "Jack", "Aisha", "Omar", "Priya", "Arjun", "Mei", "Wei", "Yuki", "Hiroshi", "Fatima",
    "Karim", "Ingrid", "Björn", "Sofia", "Luca", "Giulia", "Marco", "Camille", "Julien",
    "Léa", "Hugo", "Anna", "Jonas", "Clara", "Felix", "Elena", "Pablo", "Lucía", "José",
    "Ana", "Diego", "Renée", "Sean", "Niamh", "Connor", "Aoife", "Rachel", "Michael", "Sarah",
    "Thomas", "Laura", "Kevin", "Nadia", "Tariq", "Leila", "Samir", "Hannah", "Ben", "Kate",
    "Ravi", "Ananya", "Chen", "Lin", "Kofi", "Amara", "Tunde", "Zanele", "Mark", "Julia",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez",
    "Martínez", "Hernández", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Green", "Adams",
    "Baker", "Nelson", "Carter", "Mitchell", "O'Brien", "O'Connor", "Murphy", "Kelly",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Dubois", "Lefèvre",
    "Moreau", "Laurent", "Rossi", "Russo", "Bianchi", "Romano", "van der Berg", "de Vries",
    "Jansen", "Bakker", "Andersson", "Johansson", "Nilsson", "Larsen", "Novak", "Kowalski",
    "Patel", "Shah", "Singh", "Gupta", "Kumar", "Khan", "Ahmed", "Hassan", "Ali", "Chen",
    "Wang", "Zhang", "Liu", "Tanaka", "Sato", "Suzuki", "Kim", "Park", "Okafor", "Mensah",
    "Diallo", "Mbeki", "Silva", "Santos", "Oliveira", "Costa", "Cohen", "Levi", "Fernández",
)  # fmt: skip

PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")

# Company names are "<Stem> <Suffix>" where the stem is a compound of these two lists; the
# stem alone gives the domain, so unique stems make names and domains unique by construction.
STEM_HEADS: tuple[str, ...] = (
    "North", "South", "Blue", "Bright", "Silver", "Iron", "Red", "Green", "Stone", "Clear",
    "Swift", "High", "Oak", "Pine", "Cedar", "Maple", "Summit", "River", "Harbor", "Golden",
    "Crystal", "Falcon", "Eagle", "Granite", "Copper", "Amber", "Sun", "Star", "Moon", "Cloud",
    "Frost", "Ever", "True", "Prime", "Nova", "Lumen", "Vertex", "Apex", "Atlas", "Orbit",
    "Quill", "Arrow", "Beacon", "Cobalt", "Delta", "Echo", "Ember", "Fern", "Glen", "Hazel",
    "Indigo", "Juniper", "Keystone", "Lake", "Meadow", "Noble", "Onyx", "Pioneer", "Quartz",
    "Sage", "Tidal", "Union", "Vivid", "Willow", "Zenith", "Alder", "Birch", "Crest", "Dune",
    "Elm", "Flint", "Grove", "Heath", "Jade", "Kestrel", "Linden", "Bold", "West", "East",
)  # fmt: skip

STEM_TAILS: tuple[str, ...] = (
    "field", "bridge", "gate", "stone", "wood", "water", "point", "line", "path", "way",
    "port", "view", "brook", "ridge", "wave", "light", "forge", "mark", "vale", "haven",
    "peak", "shore", "leaf", "rock", "well", "spring", "side", "land", "hill", "ford", "bay",
    "star", "core", "stack", "loop", "craft", "wise", "scale", "beam", "works",
)  # fmt: skip

REGULATED_INDUSTRIES: frozenset[str] = frozenset({"financial services", "insurance", "healthcare"})

# industry -> relative weight in the book
INDUSTRY_WEIGHTS: dict[str, int] = {
    "software": 20,
    "financial services": 10,
    "insurance": 6,
    "healthcare": 9,
    "logistics": 9,
    "manufacturing": 11,
    "retail": 8,
    "professional services": 12,
    "media": 6,
    "construction": 4,
    "energy": 5,
}

INDUSTRY_SUFFIXES: dict[str, tuple[str, ...]] = {
    "software": ("Software", "Labs", "Systems", "Cloud", "Technologies", "Analytics"),
    "financial services": ("Capital", "Finance", "Wealth", "Partners", "Payments"),
    "insurance": ("Insurance", "Assurance", "Mutual", "Underwriters"),
    "healthcare": ("Health", "Medical", "Clinics", "Care", "Diagnostics"),
    "logistics": ("Logistics", "Freight", "Shipping", "Transport"),
    "manufacturing": ("Manufacturing", "Industries", "Components", "Fabrication"),
    "retail": ("Retail", "Stores", "Goods", "Outfitters", "Market"),
    "professional services": ("Consulting", "Advisory", "Group", "Associates", "Legal"),
    "media": ("Media", "Studios", "Publishing", "Broadcasting"),
    "construction": ("Construction", "Builders", "Engineering"),
    "energy": ("Energy", "Power", "Renewables", "Utilities"),
}

INDUSTRY_TLDS: dict[str, tuple[str, ...]] = {
    "software": (".io", ".com", ".ai", ".com", ".dev"),
}
DEFAULT_TLDS: tuple[str, ...] = (".com", ".com", ".com", ".co", ".net", ".co.uk", ".de", ".eu")

# Titles by seniority tier. The CEO variants are kept apart so a company never gets two CEOs.
CEO_TITLES: tuple[str, ...] = ("CEO", "Founder & CEO", "Managing Director")
EXEC_TITLES: tuple[str, ...] = ("CFO", "COO", "CTO", "Chief Revenue Officer")
VP_TITLES: tuple[str, ...] = (
    "VP Sales",
    "VP Finance",
    "VP Operations",
    "VP Engineering",
    "VP Customer Success",
    "VP Marketing",
)
DIRECTOR_TITLES: tuple[str, ...] = (
    "Head of Operations",
    "Director of Finance",
    "Head of Revenue Operations",
    "Director of IT",
    "Head of Procurement",
    "Head of Marketing",
    "Director of Sales",
)
MANAGER_TITLES: tuple[str, ...] = (
    "IT Manager",
    "Finance Manager",
    "Operations Manager",
    "Sales Manager",
    "Financial Controller",
    "Customer Service Manager",
    "Procurement Manager",
)
STAFF_TITLES: tuple[str, ...] = (
    "Analyst",
    "Financial Analyst",
    "Operations Analyst",
    "Accountant",
    "Sales Operations Specialist",
    "Systems Administrator",
    "Business Analyst",
)
# Industry flavour, added to the director/manager pools of that industry.
INDUSTRY_TITLES: dict[str, tuple[str, ...]] = {
    "software": ("Head of Engineering", "Product Manager"),
    "financial services": ("Chief Compliance Officer", "Head of Risk"),
    "insurance": ("Head of Claims", "Underwriting Manager"),
    "healthcare": ("Chief Medical Officer", "Practice Manager"),
    "logistics": ("Head of Supply Chain", "Fleet Manager"),
    "manufacturing": ("Plant Manager", "Head of Supply Chain"),
    "retail": ("Head of E-commerce", "Store Operations Manager"),
    "professional services": ("Managing Partner", "Practice Lead"),
    "media": ("Head of Content", "Editor-in-Chief"),
    "construction": ("Project Director", "Site Operations Manager"),
    "energy": ("Head of Asset Management", "Grid Operations Manager"),
}

# ROI results: "{pct}" is a percentage, "{a}"/"{b}" a before/after pair (a > b), "{hours}" hours.
ROI_GENERIC: tuple[str, ...] = (
    "cut invoice processing time by {pct}%",
    "cut month-end close from {a} to {b} days",
    "saved the operations team {hours} hours a week",
    "reduced manual data entry by {pct}%",
    "cut reporting prep from {a} to {b} days",
    "reduced time-to-approve purchase orders by {pct}%",
)
ROI_BY_INDUSTRY: dict[str, tuple[str, ...]] = {
    "software": (
        "cut new-rep ramp time from {a} to {b} weeks",
        "reduced churned trials by {pct}%",
    ),
    "financial services": (
        "cut client onboarding (KYC) from {a} to {b} days",
        "reduced reconciliation errors by {pct}%",
    ),
    "insurance": (
        "cut claims handling time by {pct}%",
        "reduced quote turnaround from {a} to {b} days",
    ),
    "healthcare": (
        "cut patient intake paperwork by {pct}%",
        "reduced billing denials by {pct}%",
    ),
    "logistics": (
        "reduced late shipments by {pct}%",
        "cut carrier invoice disputes by {pct}%",
    ),
    "manufacturing": (
        "cut supplier onboarding from {a} to {b} days",
        "reduced unplanned downtime by {pct}%",
    ),
    "retail": (
        "cut stock-outs by {pct}%",
        "reduced returns processing time by {pct}%",
    ),
    "professional services": (
        "raised billable utilisation by {pct}%",
        "cut time-to-invoice from {a} to {b} days",
    ),
    "media": (
        "cut content approval cycles from {a} to {b} days",
        "reduced licensing errors by {pct}%",
    ),
    "construction": ("cut subcontractor payment time by {pct}%",),
    "energy": ("cut field work-order backlog by {pct}%",),
}

PROMOTER_COMMENTS: tuple[str, ...] = (
    "Onboarding was painless and the team is super responsive.",
    "Our CSM knows our business better than some of our own people.",
    "It paid for itself within the first quarter.",
    "Rock solid, and support answers within the hour.",
    "The reporting alone saved us a hire.",
    "Best vendor rollout we've had in years.",
    "We recommend it to every peer who asks.",
)
PASSIVE_COMMENTS: tuple[str, ...] = (
    "Solid product, reporting could be more flexible.",
    "Does the job; the admin UI takes some getting used to.",
    "Good overall, would like better ERP integration.",
    "Fine, though pricing went up at renewal.",
)
DETRACTOR_COMMENTS: tuple[str, ...] = (
    "Too many sync errors since the last release.",
    "Support tickets take days to get a real answer.",
    "Implementation dragged on far longer than promised.",
    "We're not seeing the value we were sold.",
    "Key features we need are still on the roadmap.",
)
POSITIVE_FEEDBACK: tuple[str, ...] = (
    "Thanks for the quick turnaround on the custom report, the board loved it.",
    "The new approval workflow saves our AP team hours every week.",
    "Your team made our audit this year a non-event.",
    "Shared the dashboard with our CEO, she wants it in every QBR now.",
    "Great session at the user group, we picked up three ideas to roll out.",
    "The migration weekend went without a hitch, thank you.",
)
NEGATIVE_FEEDBACK: tuple[str, ...] = (
    "The latest update broke our export to the ERP again.",
    "We were promised SSO by last quarter and still don't have it.",
    "Invoices went out with the wrong tax codes this month.",
    "Our users find the mobile app too slow to use on site.",
)
CSAT_COMMENTS: dict[int, tuple[str, ...]] = {
    5: ("Quick fix, thanks!", "Very helpful, solved on the first call."),
    4: ("Resolved, took a little while.",),
    3: ("OK in the end.",),
    2: ("Had to chase twice.",),
    1: ("Still not fixed.", "Nobody got back to me."),
}
ESCALATIONS: tuple[str, ...] = (
    "P1: invoices not syncing to the ERP",
    "SSO outage blocking all users",
    "Data export missing records since the last release",
    "Billing dispute over seat count",
    "Repeated API timeouts during month-end",
    "Executive complaint about support response times",
)
CHURN_RISKS: tuple[str, ...] = (
    "Champion left the company",
    "Usage down 40% over the last 60 days",
    "Evaluating a competitor ahead of renewal",
    "Budget freeze announced by the CFO",
    "Acquired by a group with a different standard tool",
)
UPSELLS: tuple[str, ...] = (
    "Added {n} seats",
    "Added the analytics module",
    "Expanded to a second business unit",
    "Upgraded to the enterprise plan",
    "Added premium support",
)
