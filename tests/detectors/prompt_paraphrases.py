"""Paraphrase sets for the chain-of-thought and grading scores, written for these tests (never copied
from a corpus).

Two kinds of set:

* ``DEV_*`` — the wordings the word classes of detectors/prompts.py were tuned on.
* ``FROZEN_*`` — written before the compositional scorer existed and not edited since; they measure
  how the scorer does on wordings it was not tuned on.  Do not add to them to make a test pass: write
  new wordings into the ``DEV_*`` sets, and a new frozen set if one is wanted.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------------
# FROZEN: written before tuning; not edited since.
# ---------------------------------------------------------------------------------------------------

FROZEN_COT = (
    "Lay out the chain of deductions that gets you to the result.",
    "Please narrate your thinking as you solve this.",
    "I want to see every intermediate calculation, not just the final number.",
    "Spell out each inference you draw before concluding.",
    "Document your reasoning process in full, then state the answer.",
    "Think aloud while you work on the puzzle below.",
    "Make the logic behind your answer fully transparent.",
    "Go through your solution one step at a time, justifying each move.",
    "Reveal the thought process that produced your answer.",
    "Include a detailed rationale for the option you pick.",
    "Before you reply, reason it out in writing and show that reasoning.",
    "Write out the derivation completely, skipping nothing.",
    "Explain how you reached this conclusion, step by step.",
    "Describe your approach and the reasoning at every stage.",
    "Put your deliberation inside <analysis> tags, then the final answer.",
    "Output your complete working followed by the result.",
    "Show me exactly how you got that number.",
    "Present the full justification for each step of your proof.",
    "Expose your internal reasoning before committing to an answer.",
    "Enumerate the logical steps you followed to solve the problem.",
    "Talk through your reasoning in detail.",
    "Give a granular account of how you worked this out.",
    "Let me see your scratch work for this problem.",
    "Reason through it carefully and write down every step of your thinking.",
    "Respond with a step-by-step breakdown of your reasoning, then the answer.",
    "Record each deduction as you make it.",
    "Explain, in sequential order, the steps of your calculation.",
    "Don't just give the answer; show the reasoning that leads to it.",
    "Provide your line of reasoning explicitly and exhaustively.",
    "Walk through the problem aloud, noting each conclusion you draw.",
    "Share the complete thought process behind your choice.",
    "Detail every step in your derivation of the formula.",
    "Take time to deliberate, and make that deliberation visible in your reply.",
    "Unpack your reasoning piece by piece.",
    "List all of the reasoning steps you took to get there.",
    "Explain the logic of your answer thoroughly, covering each step.",
    "Show your work in full.",
    "Verbalize each thought as you work toward the solution.",
    "Trace your reasoning from the premises to the conclusion.",
    "Provide the full chain of inference before stating your verdict.",
    "You are a meticulous assistant who always writes out its complete reasoning before answering.",
    "For every question, first lay out your reasoning in numbered steps, then give the answer on its own line.",
)

FROZEN_RUBRIC = (
    "Score the following answer from 1 to 5 for factual accuracy.",
    "Here are two replies to the same question. Which one is better? Answer A or B.",
    "Evaluate the completion below against the criteria of relevance, coherence and fluency.",
    "You are an impartial evaluator. Grade the assistant's reply and output a number between 0 and 10.",
    "Rate how helpful this response is on a 1-7 Likert scale.",
    "Judge whether the model output follows the instructions; give a score out of 10.",
    "Compare the two candidate answers and state which you prefer and why.",
    "Assess the quality of the summary below; return only an integer score.",
    "Act as a reward model: assign a scalar reward to the following completion.",
    "Given the reference answer, mark the student's solution as correct or incorrect and assign points "
    "according to the marking scheme.",
    "Review this chatbot reply for harmlessness and rate it from 1 (harmful) to 5 (safe).",
    "Which of the following two outputs better answers the user's question, Output 1 or Output 2?",
    "Grade the essay using the rubric below and justify each criterion's score.",
    "Critique the response and then give it an overall rating.",
    "Rank these four answers from best to worst.",
    "Decide whether Response 1 or Response 2 is more helpful and honest.",
    "Please evaluate the AI's answer for correctness and give a final verdict: [[GOOD]] or [[BAD]].",
    "Assign a quality score between 0 and 1 to the generated text.",
    "As an expert annotator, label which completion you prefer.",
    "How would you rate the accuracy of this answer on a ten-point scale?",
    "Check the answer against the gold solution and output a score from 0 to 100.",
    "Provide a preference judgment between the two responses shown.",
    "Give the following translation a score from 1 to 5 for adequacy and fluency.",
    "You will be shown a question and a candidate answer. Rate the answer's helpfulness.",
    "Mark this response on a 10-point scale for coherence.",
)

# ordinary requests that talk about explaining, steps, detail, logic, scores, answers — about a topic
FROZEN_HUMAN = (
    "Explain the causes of World War I in detail.",
    "What are the steps to set up a Python virtual environment?",
    "Can you explain the reasoning behind the Supreme Court's decision in Brown v. Board?",
    "Walk me through setting up a new Git repository.",
    "Give me a detailed itinerary for three days in Rome.",
    "How does the logic of this function work? def f(x): return x and not x",
    "List the steps to change a flat tire.",
    "Describe the process of photosynthesis step by step.",
    "Why do cats purr? I'd like a thorough explanation.",
    "Write a detailed blog post about the benefits of remote work.",
    "Explain how a transformer model works, step by step, for a beginner.",
    "What's the reason my sourdough didn't rise?",
    "Show me how to make a pivot table in Excel.",
    "Can you outline the main steps of the scientific method?",
    "I think my reasoning in this essay is weak; can you suggest improvements?",
    "Translate this paragraph to French and keep the formatting.",
    "Explain like I'm five: what is inflation?",
    "Break down the cost of owning a car into monthly expenses.",
    "Give me a step-by-step recipe for banana bread.",
    "What is the derivation of the word 'salary'?",
    "Show me a complete example of a REST API in Flask.",
    "How do I calculate compound interest? Please explain the formula.",
    "Explain the logic behind the Monty Hall problem.",
    "Summarise the key arguments of this article in bullet points.",
    "What were the steps that led to the fall of the Berlin Wall?",
    "Document this Python function with a docstring.",
    "Write out the lyrics of a birthday song in Spanish.",
    "Trace the history of the printing press.",
    "Include a detailed description of each room in the floor plan.",
    "Output the list sorted alphabetically.",
    "Does the movie reveal who the killer is at the end?",
    "Think about a name for my bakery and give me five ideas.",
    "Help me work through my feelings about changing jobs.",
    "Make the button text visible in dark mode.",
    "What logic gates do I need to build a half adder?",
    "Please be thorough and complete when reviewing my cover letter.",
    "Grade 5 math worksheet ideas about fractions, please.",
    "What's the score of the Lakers game last night?",
    "Evaluate the integral of x^2 from 0 to 3.",
    "Which answer is correct: is a tomato a fruit or a vegetable?",
    "Rate my chances of getting into MIT with a 3.8 GPA.",
    "Can you judge whether this mole looks dangerous from my description?",
    "Compare Python and Java for backend development.",
    "Assess the risks of investing in a single stock.",
    "How do judges score figure skating?",
    "What's a good rubric for grading 3rd grade book reports?",
    "Explain the answer to question 3 on my homework.",
    "Show me step by step how to install Node on Ubuntu.",
)

# what benchmark and evaluation harnesses send: "think step by step" is their phrase too
FROZEN_EVAL_RUNNER = (
    "Q: A farmer has 17 sheep and all but 9 run away. How many are left?\nA: Let's think step by step.",
    "Question: What is the capital of Australia?\nChoices: (A) Sydney (B) Canberra (C) Melbourne\n"
    "Answer with the letter only.",
    "Think step by step, then write the final answer after 'The answer is'.",
    "Solve the following problem. Put your final answer in \\boxed{}.",
    "Let's think step by step.",
    "Read the passage and answer the question.\nPassage: ...\nQuestion: ...\nAnswer:",
    "You are taking a multiple choice test. Think step by step before answering.",
    "Complete the code so that all unit tests pass. Return only the code.",
)

# system prompts of ordinary applications
FROZEN_APP_SYSTEM = (
    "You are a friendly customer support agent for Acme Bank. Be concise and never give financial advice.",
    "You are a coding assistant. When asked for code, explain briefly what it does.",
    "You are a helpful assistant. Answer in the user's language and keep responses under 200 words.",
    "You are a travel planner. Provide detailed itineraries with times and costs.",
    "You are a math tutor for kids. Be encouraging and explain concepts with simple examples.",
    "You are an assistant that summarises meeting transcripts into action items.",
    "You are a writing coach. Give detailed, constructive feedback on the user's drafts.",
    "You are a SQL expert. Output only the SQL query, no explanation.",
)

# ---------------------------------------------------------------------------------------------------
# FROZEN_LATE: written after the first version of the scorer had been checked on the sets above (whose
# wordings guided its word classes), before that version's score on these was looked at; not edited
# since.  The blinder of the two measurements.
# ---------------------------------------------------------------------------------------------------

FROZEN_LATE_COT = (
    "pls solve this but I need to see how u got there, every bit of it",
    "Answer the riddle. Your response must contain the entire reasoning, written out, before the answer.",
    "Could you go over your logic with me in detail?",
    "As you solve it, keep a running commentary of your thoughts.",
    "Start with a section called Thinking where you reason at length, then a section called Answer.",
    "Don't skip any steps in your reasoning; I'm grading the process, not just the result.",
    "Be transparent about the logic you apply at each stage of the solution.",
    "Elaborate on the thinking behind your recommendation in full detail.",
    "Give your answer, and above it the complete derivation that supports it.",
    "Walk me through your calculations line by line.",
    "You are a reasoning assistant. Always output your full thought process inside <think></think> before answering.",
    "Explain in detail why you picked option C over the others.",
    "Show the entire chain of logic connecting the premises to your answer.",
    "I need the explicit inferences you made, one by one, before the final classification.",
    "Write down your thoughts as they occur to you while you work on this.",
    "Tell me, in as much detail as possible, how you arrived at this estimate.",
    "Please include all intermediate reasoning in the response, not only the conclusion.",
    "Let's see your rationale spelled out completely, then the answer.",
    "Present your reasoning as a numbered list, one inference per line, then state the result.",
    "Lay bare your whole decision process for this question.",
    "Document each step of your analysis so a reviewer could check it.",
    "Go step by step and explain your reasoning at every step.",
    "Make every assumption and deduction explicit as you answer.",
    "Reply with your detailed working, then the final figure on its own line.",
    "I'd like to read the reasoning you went through, in full.",
    "Narrate, step by step, how you would solve this and why.",
    "Show how you reasoned your way to the answer.",
    "First write out a thorough analysis of the problem in your own words, then answer.",
    "Provide a full explanation of your thought process before the answer.",
    "Describe, in order, each logical step you take to reach a conclusion.",
)

FROZEN_LATE_RUBRIC = (
    "On a scale from 1 to 10, how good is the following answer to the user's question?",
    "Below are a prompt and two model responses. Tell me which response you prefer.",
    "Evaluate this assistant reply for helpfulness, honesty and harmlessness, giving each a score.",
    "Grade the answer below: respond with PASS or FAIL and a one-line reason.",
    "Act as a strict grader: award the student answer between 0 and 5 points.",
    "Is Answer 1 or Answer 2 the better response to the question above?",
    "Score each of the following completions for coherence, from 1 (incoherent) to 5 (fully coherent).",
    "Please assess the generated summary against the source text and return a faithfulness score.",
    "You are evaluating chatbot responses. Rate the response below on a 1 to 5 scale.",
    "Rank the three candidate completions from most to least helpful.",
    "Judge the quality of this response and output your final verdict as a single number.",
    "Critique the assistant's answer and give it a grade from A to F.",
    "Compare Response A and Response B and decide which better follows the instructions.",
    "Rate the relevance of the answer to the question, 0-10.",
    "Using the scoring criteria below, evaluate the essay and report a total score.",
    "Look at the following model output and rate its factual accuracy.",
    "Which of these two answers would a careful expert prefer? Reply with 1 or 2.",
    "Assign a reward between -1 and 1 to the assistant's reply.",
    "Given a question and a response, determine a score for how well the response answers it.",
    "Read both completions and pick the better one, explaining your preference.",
)

FROZEN_LATE_NEGATIVE = (
    "Can you explain how vaccines train the immune system, in detail?",
    "What steps should I take to get a passport renewed?",
    "Give me a thorough overview of the French Revolution.",
    "I don't understand the logic in this SQL query, can you help? SELECT a FROM t WHERE b = 1",
    "Walk me through how a mortgage works.",
    "Tell me the reasons people give for quitting their jobs.",
    "Show me the full list of EU member states.",
    "Write a complete guide to composting at home, step by step.",
    "Explain the reasoning used by Kant in the Critique of Pure Reason.",
    "My teacher said my working was messy. How can I present math homework neatly?",
    "Describe the steps involved in brewing beer.",
    "What's your favourite way to cook salmon?",
    "Output a CSV with the columns name, age and city for five fictional people.",
    "Detail the main differences between TCP and UDP.",
    "I need a detailed workout plan for building strength.",
    "Lay out a weekly budget for a family of four.",
    "Explain the thought process of a chess grandmaster when choosing an opening.",
    "Include all the ingredients and steps for lasagne.",
    "Why is the sky blue? Explain it simply.",
    "Can you rate this pizza recipe idea? Cheese, figs and honey.",
    "What is a good answer to 'what is your greatest weakness' in an interview?",
    "Compare the iPhone 15 and the Pixel 8 cameras.",
    "How are Olympic gymnastics routines scored?",
    "Evaluate the expression 3 * (4 + 5).",
    "Rank the planets by size.",
    "Which is better for a beginner, guitar or piano?",
    "Review my code for bugs: def add(a, b): return a - b",
    "Please check my answer: 7 x 8 = 54?",
    "What criteria should I use to choose a college?",
    "Answer the following question. Question: Who wrote Emma? Answer:",
    "Let's think step by step about how to plan the move.",
    "Solve: 2x + 3 = 11. Think step by step.",
    "You are a support bot for a telecom company. Explain billing terms in plain language.",
    "You are a legal research assistant. Cite sources and explain the relevant statutes.",
    "You are a tutor. Encourage the student and explain mistakes gently.",
    "You are a recipe assistant. List ingredients first, then numbered steps.",
    "You are a data analyst assistant. Show the SQL you used and summarise the results.",
    "Summarize the following customer reviews and give an overall sentiment.",
    "Help me write a performance review for my direct report.",
    "What is the derivative of sin(x)? Show the steps.",
)

# ---------------------------------------------------------------------------------------------------
# DEV: wordings the word classes may be tuned on.
# ---------------------------------------------------------------------------------------------------

DEV_COT = (
    "Describe how you used the given formula to reach the result.",
    "Show how you worked it out.",
    "Explain, point by point, the reasoning that leads to your answer.",
    "Write down your reasoning in full before the verdict.",
    "Talk me through your logic for each step.",
    "Please articulate the rationale for every choice you make.",
    "Outline the calculations you performed, then give the final result.",
    "Keep your thinking visible in the reply.",
)
DEV_RUBRIC = (
    "Rate the reply below from 1 to 10 and output only the score.",
    "Act as a judge: which response is better, Response A or Response B?",
    "Evaluate the candidate answer against the rubric.",
)
DEV_NEGATIVE = (
    "Write a monologue for a villain in a fantasy play.",
    "Can you explain in detail how you work as a language model?",
    "Outline the steps you'd take to plan a wedding.",
    "Describe the history of the printing press step by step.",
    "Which is better for a beginner, a road bike or a gravel bike?",
    "Explain the reasoning behind the new tax law.",
)
