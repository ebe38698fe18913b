"""Word lists the procedural prompt generator combines (topic x task x template x slot filler).

Written for this project so that simulation needs no external text.  The lists are wide on
purpose: a sweeping campaign keeps reaching new topics for the whole window instead of
exhausting them on day one, and benign users and campaigns draw from the same pool.
"""

from __future__ import annotations

TOPICS: dict[str, tuple[str, ...]] = {
    "science": (
        "quantum entanglement", "plate tectonics", "photosynthesis", "black holes", "CRISPR gene editing",
        "the Krebs cycle", "superconductivity", "ocean acidification", "the Doppler effect", "mitochondria",
        "nuclear fusion", "the immune response to vaccines", "entropy", "protein folding", "dark matter",
        "the water cycle", "radioactive decay", "neurotransmitters", "the greenhouse effect", "natural selection",
        "semiconductor doping", "the periodic table trends", "circadian rhythms", "exoplanet detection",
        "enzyme kinetics", "special relativity", "volcanic eruptions", "antibiotic resistance", "tidal forces",
        "stem cells", "chemical equilibrium", "the Higgs boson", "coral reef bleaching", "epigenetics",
    ),
    "humanities": (
        "the fall of the Roman Empire", "the French Revolution", "stoicism", "the Renaissance", "existentialism",
        "the Silk Road", "the Meiji Restoration", "utilitarianism", "the printing press", "impressionism",
        "the Cold War", "the Ottoman Empire", "Kant's categorical imperative", "the Harlem Renaissance",
        "the Industrial Revolution", "Greek tragedy", "the Byzantine Empire", "the Enlightenment",
        "the partition of India", "baroque music", "the Mongol Empire", "postmodern literature", "the Reformation",
        "the civil rights movement", "the Han dynasty", "epistemology", "the Cuban missile crisis", "haiku poetry",
    ),
    "society": (
        "inflation", "supply and demand", "game theory", "behavioral economics", "universal basic income",
        "the tragedy of the commons", "central bank interest rates", "cognitive dissonance", "urbanization",
        "contract law", "GDPR compliance", "the gig economy", "confirmation bias", "minimum wage policy",
        "comparative advantage", "electoral systems", "intellectual property", "attachment theory",
        "the placebo effect", "carbon pricing", "microfinance", "housing affordability", "antitrust law",
        "remote work productivity", "social media and polarization", "public health campaigns",
    ),
    "technology": (
        "TCP congestion control", "database indexing", "garbage collection", "public key cryptography",
        "Kubernetes scheduling", "transformer neural networks", "gradient descent", "DNS resolution",
        "eventual consistency", "OAuth 2.0", "container networking", "CPU caches", "B-trees", "TLS handshakes",
        "vector databases", "reinforcement learning", "blockchain consensus", "compiler optimization",
        "memory safety", "load balancing", "zero-knowledge proofs", "microservices", "feature stores", "CAP theorem",
        "SQL joins", "WebAssembly", "diffusion models", "the actor model", "rate limiting", "consistent hashing",
        "CI/CD pipelines", "observability", "sharding", "LLM quantization",
    ),
    "health": (
        "intermittent fasting", "sleep hygiene", "type 2 diabetes", "strength training", "hypertension",
        "gut microbiome", "migraine triggers", "vitamin D", "marathon training", "anxiety management",
        "ergonomics at a desk", "cholesterol", "lower back pain", "hydration", "meditation",
    ),
    "business": (
        "a go-to-market strategy", "customer churn", "OKRs", "unit economics", "pricing strategy", "a pitch deck",
        "supply chain resilience", "brand positioning", "cash flow forecasting", "hiring engineers",
        "product-market fit", "negotiating a salary", "a marketing funnel", "inventory management", "venture capital",
        "a SWOT analysis", "employee onboarding",
    ),
    "daily life": (
        "sourdough bread", "a trip to Japan", "houseplants", "budgeting", "a birthday party", "learning guitar",
        "composting", "moving to a new city", "training a puppy", "a wedding toast", "meal prep", "buying a used car",
        "a job interview", "learning Spanish", "a camping trip", "home insulation", "saving for retirement",
        "a vegetarian diet", "decluttering", "a road trip through Italy",
    ),
}  # fmt: skip

ALL_TOPICS: tuple[str, ...] = tuple(t for group in TOPICS.values() for t in group)

LANGUAGES = (
    "Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C++", "C#", "Kotlin", "Swift", "Ruby", "PHP",
    "Scala", "Haskell", "Bash", "SQL", "Elixir", "Julia",
)  # fmt: skip

CODE_TASKS = (
    "parses a CSV file and returns the average of the column named {word}",
    "implements an LRU cache with a capacity of {n} entries",
    "merges overlapping intervals in a list",
    "validates an email address without using a library",
    "computes the Levenshtein distance between two strings",
    "returns the {n} most frequent words in a text",
    "performs binary search on a sorted array",
    "serializes and deserializes a binary tree",
    "limits calls to an API to {n} per second",
    "detects a cycle in a directed graph",
    "converts Roman numerals to integers",
    "reads a JSON config file and merges it with defaults",
    "deduplicates records by the field {word}",
    "implements a trie with insert and prefix search",
    "maintains a running median of a stream of numbers",
    "orders tasks by their dependencies (topological sort)",
    "paginates through a REST API until no next page is returned",
    "retries an HTTP request with exponential backoff and jitter",
    "finds the shortest path in a weighted grid",
    "flattens an arbitrarily nested list",
    "checks whether a string of brackets is balanced",
    "implements a thread-safe bounded queue",
    "computes a moving average over a window of {n} values",
    "parses ISO 8601 timestamps and converts them to UTC",
    "generates all permutations of a string",
    "implements matrix multiplication for {n}x{n} matrices",
    "compresses a string with run-length encoding",
    "splits a large file into chunks of {n} MB",
    "implements a min-heap from scratch",
    "calculates compound interest over {n} years",
    "finds anagrams in a list of words",
    "implements the A* search algorithm",
    "reads log lines and counts HTTP status codes",
    "implements a simple key-value store with TTL expiry",
    "validates a Sudoku board",
    "converts a Markdown table to CSV",
)  # fmt: skip

FRAMEWORKS = (
    "Django", "React", "FastAPI", "Spring Boot", "Express", "pandas", "NumPy", "PyTorch", "Flask", "Vue",
    "Next.js", "Rails", "Laravel", "TensorFlow", "SQLAlchemy", "Kafka", "Redis", "PostgreSQL", "Terraform",
    "Docker", "Airflow", "Spark",
)  # fmt: skip

ERRORS = (
    "KeyError", "TypeError: 'NoneType' object is not subscriptable", "segmentation fault",
    "undefined is not a function", "NullPointerException", "index out of range", "CORS error",
    "ModuleNotFoundError", "deadlock detected", "borrow of moved value", "connection refused",
    "maximum recursion depth exceeded", "out of memory", "permission denied",
)  # fmt: skip

TOOLS = (
    "search_web", "read_file", "write_file", "run_python", "run_shell", "query_database", "send_email",
    "get_weather", "create_calendar_event", "fetch_url", "list_directory", "git_diff", "run_tests",
)  # fmt: skip

AGENT_TASKS = (
    "find the three most recent papers on {topic} and summarize them",
    "fix the failing unit test in the repository and explain the change",
    "book a meeting with the team next {weekday} afternoon",
    "collect the prices of {n} competitor products and put them in a table",
    "refactor the module to remove the duplicated code",
    "find out why the nightly build is slow and propose a fix",
    "draft a reply to the customer complaint about {topic}",
    "migrate the configuration from YAML to TOML",
    "write a script that backs up the database every {n} hours",
    "check the logs for errors in the last {n} hours and report the causes",
    "plan a {n}-day itinerary and check the weather for each day",
    "add input validation to the signup endpoint",
)  # fmt: skip

WRITING_FORMS = (
    "poem", "short story", "cover letter", "product description", "blog post", "speech", "haiku", "limerick",
    "essay", "press release", "newsletter", "LinkedIn post", "toast", "song lyrics", "dialogue", "fable",
)  # fmt: skip

STYLES = (
    "Shakespeare", "Hemingway", "a noir detective novel", "a children's book", "a sports commentator",
    "a pirate", "Jane Austen", "a scientific paper", "a motivational coach", "a news anchor",
)  # fmt: skip

AUDIENCES = (
    "a five-year-old", "a high school student", "a graduate student", "a senior engineer", "a CEO",
    "a complete beginner", "a domain expert", "my grandmother", "a job interviewer",
)  # fmt: skip

ENTITIES = ("customers", "orders", "employees", "sensors", "patients", "stores", "flights", "students")
FIELDS = ("revenue", "age", "temperature", "duration", "score", "price", "region", "status", "quantity")
CITIES = ("Lyon", "Osaka", "Denver", "Nairobi", "Porto", "Leeds", "Pune", "Recife", "Gdansk", "Austin")
NAMES = ("Alice", "Bob", "Priya", "Chen", "Maria", "Tom", "Aisha", "Diego", "Yuki", "Olga", "Sam", "Lena")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
WORDS = ("price", "name", "email", "user_id", "score", "city", "total", "created_at", "sku", "label")

# campaign / evaluation style: imperative, complete, self-contained
INSTRUCTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "knowledge": (
        "Explain {topic} to {audience}.",
        "Provide a comprehensive overview of {topic}, including its history, key concepts and open questions.",
        "What are the main causes and consequences of {topic}?",
        "Compare and contrast {topic} and {topic2}.",
        "Summarize the current scientific consensus on {topic}.",
        "List five common misconceptions about {topic} and correct each one.",
        "Describe how {topic} works, using an analogy.",
        "Write a detailed FAQ with {n} questions about {topic}.",
        "Give a critical analysis of {topic} from two opposing perspectives.",
    ),
    "reasoning": (
        "Solve the following problem: {problem}",
        "{problem}",
        "Answer the question below.\n\n{problem}",
        "Question: {problem}\nAnswer:",
        "Determine the answer and verify it: {problem}",
    ),
    "coding": (
        "Write a {lang} function that {code_task}.",
        "Implement a {lang} class that {code_task}. Include unit tests.",
        "Write an efficient {lang} program that {code_task}, and analyse its time complexity.",
        "Refactor the following {lang} code to be more idiomatic:\n```\n{snippet}\n```",
        "Explain what this {lang} code does and find the bug:\n```\n{snippet}\n```",
        "Using {framework}, build a minimal example that {code_task}.",
        "Translate this code to {lang2}:\n```\n{snippet}\n```",
    ),
    "agentic": (
        "You can call these tools: {tools}. Task: {agent_task}. Decide which tools to call and in what order.",
        "Plan the tool calls needed to {agent_task}. Available tools: {tools}.",
        "Act as an autonomous agent with access to {tools}. Goal: {agent_task}.",
    ),
    "writing": (
        "Write a {form} about {topic} in the style of {style}.",
        "Compose a {form} for {audience} about {topic}.",
        "Rewrite the following paragraph to be more concise and persuasive: {sentence}",
        "Draft a {form} announcing {topic}. Keep it under {n} words.",
    ),
    "analysis": (
        "Given this table of {entity}:\n{table}\nCompute the average {field} and identify outliers.",
        "Write a SQL query that returns the top {n} {entity} by {field}, grouped by {field2}.",
        "Here is some data:\n{table}\nWhat trends do you see? Suggest a visualization.",
        "Design an A/B test to measure the effect of {topic} on {field}. Specify metrics and sample size.",
    ),
}

# how people actually type to a chat assistant: short, lowercase, chatty
HUMAN_TEMPLATES: tuple[str, ...] = (
    "what is {topic}", "can you explain {topic} in simple terms", "how does {topic} work?",
    "whats the difference between {topic} and {topic2}", "explain {topic} like im 5",
    "help me write a {form} about {topic}", "i need a {form} for my friend's birthday, she likes {topic}",
    "why does my {lang} code give {error}", "how do i {code_task_short} in {lang}",
    "give me some tips for {topic}", "is {topic} actually true?", "quick question about {topic}",
    "can u summarize {topic} in 3 bullet points", "recommend books about {topic}",
    "what should i know before {topic}", "{lang} or {lang2} for a beginner?", "my boss asked me about {topic} help",
    "write an email to my landlord about {complaint}", "translate 'thank you for your help' to {language}",
    "ideas for dinner tonight, i have {food} and {food2}", "how many calories in {food}",
    "fix this: {snippet}", "make this sound more professional: {sentence}", "tell me a joke about {topic}",
    "can you explain {topic} step by step", "walk me through {topic}, im confused", "solve this and show the steps: "
    "{problem}", "{problem}", "why is the answer to this what it is? {problem} think it through step by step pls",
)  # fmt: skip

HUMAN_FOLLOWUPS: tuple[str, ...] = (
    "thanks! can you make it shorter", "what about {topic2}?", "can you explain that part again",
    "doesnt work, i get {error}", "ok and in {lang2}?", "more examples pls", "why?", "are you sure?",
    "make it funnier", "can you give me a source for that", "perfect thanks", "now make it more formal",
    "what would you recommend", "how long would that take", "and what if {n} instead", "simplify it",
)  # fmt: skip

COMPLAINTS = ("the broken heater", "noise from upstairs", "a late deposit return", "mold in the bathroom")
LANGUAGES_SPOKEN = ("Spanish", "French", "German", "Japanese", "Korean", "Portuguese", "Hindi", "Polish")
FOODS = ("chickpeas", "rice", "eggs", "spinach", "salmon", "tofu", "potatoes", "lentils", "pasta", "avocado")
SENTENCES = (
    "we think maybe the project could possibly be late because of some issues we had",
    "our product is good and many people like it and you should buy it",
    "i am writing to ask about the thing we talked about last week",
    "the results were kind of bad but we learned a lot of stuff",
)  # fmt: skip
CODE_TASKS_SHORT = (
    "read a file line by line", "sort a dict by value", "reverse a string", "make an http request",
    "parse json", "remove duplicates from a list", "get the current date", "connect to postgres",
)  # fmt: skip
SNIPPETS = (
    "for i in range(len(xs)): print(xs[i+1])", "def f(x): return x.sort()", "let a = [1,2,3]; a.map(x => {x*2})",
    "if (s == null) return s.length;", "x = input(); print(x + 1)", "SELECT * FROM users WHERE name = ' + name",
    "while True: data = sock.recv(1024)", "fn main() { let v = vec![1]; let w = v; println!(\"{:?}\", v); }",
)  # fmt: skip

# chain-of-thought elicitation: varied wording; some phrasings match no simple "step by step" rule
COT_SUFFIXES: tuple[str, ...] = (
    "Let's think step by step.", "Think step by step and show your work.",
    "Explain your reasoning in detail before giving the final answer.", "Walk me through your thought process.",
    "Articulate the reasoning behind each step.", "Please write out your full chain of thought, then the answer.",
    "Reason carefully, justify each step, and put the final answer on the last line.",
    "First think through the problem thoroughly, then respond.", "Provide a detailed derivation.",
    "Lay out every intermediate step.", "Break the problem into parts and solve each one, explaining why.",
    "Show all of your reasoning.", "Before answering, reason about the problem out loud.",
    "Give the rationale behind your answer, one step at a time.", "Make your reasoning explicit.",
)  # fmt: skip

COT_SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant. Always explain your reasoning step by step before the final answer.",
    "You are an expert tutor. Think carefully and show the complete reasoning trace for every answer.",
    "You are a meticulous problem solver. Break every task into steps and justify each one.",
    "You are an AI assistant that helps people find information. Provide a detailed answer so the user "
    "does not need to search elsewhere. Think through the answer before responding.",
)  # fmt: skip

PLAIN_SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant.", "You are a concise assistant. Answer briefly.",
    "You are a friendly customer support agent for {company}. Only answer questions about our products.",
    "You are a coding assistant. Prefer short, working examples.",
    "You summarise documents for busy executives. Use bullet points.",
    "You are a writing assistant for {company}'s marketing team. Match our brand voice: warm, clear, no jargon.",
)  # fmt: skip

RUBRIC_TEMPLATES: tuple[str, ...] = (
    "Rate the following response on a scale of 1 to 10 for helpfulness and factual accuracy.\n\n"
    "Question: {question}\n\nResponse: {answer}\n\nOutput only the score.",
    "You are acting as a judge. Compare the two answers to the question and say which response is better.\n\n"
    "Question: {question}\n\nResponse A: {answer}\n\nResponse B: {answer2}",
    "Evaluate the answer below against this rubric: correctness (0-4), completeness (0-3), clarity (0-3). "
    "Give a final score.\n\nQuestion: {question}\nAnswer: {answer}",
    "Grade this solution. Explain any errors, then give a grade from 0 to 100.\n\nProblem: {question}\n"
    "Solution: {answer}",
    "Which completion follows the instruction more closely? Reply with A or B and a one-line justification.\n"
    "Instruction: {question}\nA: {answer}\nB: {answer2}",
)  # fmt: skip

ANSWER_OPENERS = (
    "Sure! Here's an overview of {topic}.", "Great question. In short, {topic} is about how systems change.",
    "Here is a possible solution.", "The answer is {n}.", "Let's break this down.", "Here's a draft you can adapt.",
    "Certainly. There are three main points.", "I think the key idea is that {topic} depends on context.",
)  # fmt: skip

BATCH_TASKS: tuple[str, ...] = (
    "Classify the sentiment of this customer review as positive, negative or neutral. Review: {review}",
    "Extract the product name, quantity and price from this order email as JSON:\n{order}",
    "Translate the following product title into {language}: {title}",
    "Summarize this support ticket in one sentence: {ticket}",
    "Assign one category from [billing, shipping, returns, technical, other] to this message: {ticket}",
    "Write a 40-word product description for: {title}",
)  # fmt: skip

REVIEW_BITS = ("arrived late", "works great", "broke after {n} days", "too expensive", "exactly as described")
TITLE_BITS = ("wireless earbuds", "ceramic mug", "running shoes", "desk lamp", "yoga mat", "phone case", "backpack")
TICKET_BITS = (
    "I was charged twice for order {n}", "my package has not arrived after {n} days",
    "the app crashes when I open settings", "how do I return an item bought {n} days ago",
)  # fmt: skip
