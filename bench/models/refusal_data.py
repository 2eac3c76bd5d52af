"""Training sentences for the refusal model of ``filter.refusal`` (bench/models/train_refusal.py).

Provenance, all of it written for this model or read from ../shared/data at training time (never copied):

- positives: refusals, canned AI disclaimers, "this task cannot be done by a text model" notes and canned
  closings, composed from the parts below (openings, identities, inability phrases, actions, reasons,
  offers), written for issue 15 by the author of this file from how chat models refuse. Nothing here was
  taken from bench/heldout/ (its phrase files were never opened) nor from the tests of issue 15, nor from
  curatune's generator or refusal_phrases.txt.
- negatives: sentences of IMDB reviews (imdb_train_10k.jsonl: first-person opinions, "I can't believe",
  "unfortunately the plot"), of MRPC news sentences (mrpc_train.tsv: "was unable to", "declined to"), and
  hard negatives written here (empathy, texts about what AI can and cannot do, stories with dialogue,
  technical limits of software). Alpaca and Dolly records are not used for training: they are the data the
  false-positive check reads, and bench/heldout plants its defects into them.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

OPENINGS = [
    "I'm sorry, but",
    "Sorry, but",
    "I apologize, but",
    "Apologies, but",
    "Unfortunately,",
    "Regrettably,",
    "I'm afraid",
    "Sadly,",
    "Forgive me, but",
    "My apologies, but",
    "I regret that",
    "",
    "",
    "",
    "Hmm,",
    "Thank you for your request, but",
    "I understand what you're asking, but",
    "While I'd love to help,",
    "I wish I could help, but",
    "Thanks for asking, but",
    "I appreciate the request, but",
    "Alas,",
    "I must admit that",
    "To be honest,",
    "I have to tell you that",
    "I'm really sorry, but",
    "Oh,",
]
IDENTITIES = [
    "as an AI",
    "as an AI language model",
    "as a language model",
    "as a text-based AI",
    "as a virtual assistant",
    "as an artificial intelligence",
    "being an AI",
    "since I am an AI",
    "as a chatbot",
    "as a machine learning model",
    "as a digital assistant",
    "as an AI developed to assist",
    "as a large language model",
    "as a text-only model",
    "given that I'm an AI program",
    "as a computer program",
    "being a language model",
    "as an AI trained on text",
    "as a conversational AI",
    "as an assistant without a body",
    "as an AI system",
    "as a text generator",
    "as a program",
    "as a bot",
    "as a piece of software",
    "as a machine",
    "being a text model",
    "as a virtual helper",
    "as an automated assistant",
    "being an artificial assistant",
    "as a digital helper",
    "as an AI helper",
    "as software without a body",
    "as a program without senses",
    "being a chatbot",
    "as a model that only reads text",
]
INABILITY = [
    "I can't",
    "I cannot",
    "I am unable to",
    "I'm not able to",
    "I am not capable of",
    "I don't have the ability to",
    "I lack the ability to",
    "I do not have the capacity to",
    "it is not possible for me to",
    "it's beyond my capabilities to",
    "I'm not in a position to",
    "I won't be able to",
    "I am not equipped to",
    "I have no way to",
    "there is no way for me to",
    "I'm not designed to",
    "I am not programmed to",
    "I'm unable to",
    "I can not",
    "I'm incapable of",
    "I do not have the means to",
    "it is outside my abilities to",
    "I am not permitted to",
    "I'm not allowed to",
    "I must decline to",
    "I will not",
    "I'd rather not",
    "I am not in a position to",
    "it isn't possible for me to",
    "I don't have a way to",
    "it's not within my abilities to",
    "my capabilities don't allow me to",
    "I'm not built to",
    "I have to decline to",
    "it is not something I can do to",
    "I'm not set up to",
    "I'm restricted from being able to",
    "I can't actually",
    "I'm not really able to",
    "I don't think I can",
    "I'm not sure I can",
    "I have no ability to",
    "I have no way of being able to",
    "my abilities don't extend to being able to",
    "my skills don't include the ability to",
    "it's not in my power to",
    "I'm not capable enough to",
    "I'm in no position to",
]
# Whole refusals that are not "inability + action".
STANDALONE = [
    "I must decline this request.",
    "I have to pass on this one.",
    "That is not something I can help with.",
    "This is outside of what I can do.",
    "That goes beyond what I'm able to do.",
    "I'm going to have to say no to this request.",
    "This falls outside my capabilities.",
    "That's beyond my abilities as an assistant.",
    "I can't help you with that one.",
    "I'm not the right tool for this request.",
    "That kind of task is not something I support.",
    "I'll have to sit this one out.",
    "I won't be doing that.",
    "I'd prefer not to answer that.",
    "Doing that is not possible for me.",
    "That isn't possible for me to do.",
    "This request is not one I am able to fulfil.",
    "My abilities do not cover this kind of request.",
    "I can't process this request.",
    "I'm unable to respond to that.",
    "I can't give you what you're asking for.",
    "There's nothing I can do with this request.",
    "This is something I simply can't do.",
    "I'm not allowed to do this.",
    "I'm unable to take on this request.",
]
ACTIONS = [
    "help with that",
    "assist with this request",
    "complete this task",
    "fulfill this request",
    "do that",
    "provide that",
    "create images",
    "draw a picture",
    "generate audio",
    "play music",
    "browse the internet",
    "access the internet",
    "access real-time information",
    "see images",
    "view the image you shared",
    "watch videos",
    "listen to audio",
    "make phone calls",
    "send emails on your behalf",
    "physically perform tasks",
    "taste food",
    "visit places",
    "perform physical actions",
    "access your files",
    "remember past conversations",
    "predict the future",
    "give personal opinions",
    "have feelings",
    "experience emotions",
    "compose music you can hear",
    "design a logo",
    "record a melody",
    "produce visual content",
    "create a video",
    "open links",
    "read the attached file",
    "check the current weather",
    "look up live data",
    "book a reservation",
    "run code",
    "answer that question",
    "write that for you",
    "carry out this instruction",
    "provide an answer to this",
    "generate that content",
    "respond to this request",
    "take part in that",
    "share my own experiences",
    "tell you what I think about it",
    "show you a picture",
    "interact with the physical world",
    "get real-time stock prices",
    "search the web",
    "hear sounds",
    "touch objects",
    "go outside",
    "paint a picture",
    "sing a song",
    "print a document",
    "place an order",
    "contact anyone",
    "verify current events",
    "access websites",
    "handle that kind of request",
]
REASONS = [
    "",
    "",
    "",
    "because I am an AI",
    "since I don't have a physical body",
    "as I only process text",
    "because I don't have access to the internet",
    "as that is outside my capabilities",
    "because it goes beyond what I was designed for",
    "since I have no eyes or ears",
    "as my knowledge is limited to my training data",
    "because I don't have personal experiences",
    "as I am a text-based model",
    "since I can only work with text",
    "because I lack the necessary tools",
    "as this requires abilities I do not have",
    "because my design does not allow it",
    "since I am not connected to any devices",
    "as I do not have sensory perception",
]
OFFERS = [
    "",
    "",
    "",
    "Is there anything else I can help you with?",
    "Perhaps I can help with something else.",
    "However, I can describe it in words.",
    "You may want to consult a professional.",
    "Please try a different request.",
    "Let me know if there is another way I can assist.",
    "I'd be happy to help with a text-based alternative.",
    "Feel free to ask me something else.",
    "I hope you understand.",
    "Maybe someone else can help you with this.",
    "Please reach out to a qualified expert.",
    "I can offer some general guidance instead.",
]
DISCLAIMERS = [
    "{ident}, I don't have personal opinions.",
    "{ident}, I do not have personal preferences or feelings.",
    "{ident}, I don't have beliefs of my own.",
    "I am just a computer program and have no feelings.",
    "I'm only an AI assistant, so I have no personal experiences.",
    "I do not possess consciousness or emotions.",
    "I don't have a physical form.",
    "My responses are generated from patterns in my training data.",
    "My knowledge only goes up to my training cutoff.",
    "I don't have access to current events or the internet.",
    "{ident}, I have no personal taste, but here is some information.",
    "{ident}, I cannot form opinions.",
    "{ident}, I do not experience the world the way humans do.",
    "I don't have the capacity to feel emotions.",
    "{ident}, I don't have memories of my own.",
    "{ident}, I have no favorite, but many people like it.",
    "I am not a human, so I can't share a personal story.",
    "I do not have real-time data available.",
]
CLOSINGS = [
    "Please note that {ident_l}, I cannot guarantee the accuracy of this information.",
    "Keep in mind that I am an AI and this is not professional advice.",
    "Note: {ident_l}, my answer may contain mistakes.",
    "Please consult an expert before acting on this, since I am only an AI.",
    "Remember that {ident_l}, I can't verify these facts.",
    "Bear in mind that I don't have access to up-to-date information.",
    "Disclaimer: this response was generated by an AI and may be inaccurate.",
    "{ident_u}, I recommend double-checking this with a reliable source.",
    "Since I'm an AI, please verify this information independently.",
    "I am not a licensed professional, so please seek qualified advice.",
]
IMPERSONAL = [
    "This task cannot be completed by a text-based model.",
    "It is not possible to {action} in a text response.",
    "This instruction requires {thing}, which cannot be provided here.",
    "The request cannot be fulfilled because it requires {thing}.",
    "No output can be given for this task.",
    "This is not something that can be done in a text response.",
    "A language model cannot {action}.",
    "The task requires {thing} and therefore cannot be done.",
    "There is no way to {action} through text.",
    "This request is beyond the capabilities of an AI assistant.",
    "An AI model like this one is not able to {action}.",
    "Such a task falls outside what a chatbot can do.",
    "That would require {thing}, which a text model does not have.",
    "Generating {thing} is not supported.",
    "Unfortunately this cannot be answered without {thing}.",
    "The model is unable to {action}.",
    "The instruction asks for {thing}, which a text-only system cannot produce.",
    "A text-only assistant has no way to {action}.",
    "Producing {thing} is not possible for a language model.",
    "This requires {thing}, so no answer can be given.",
    "The task is not suitable for a text model because it needs {thing}.",
    "Text models like me are not able to {action}.",
]
THINGS = [
    "visual output",
    "an image",
    "audio",
    "a physical presence",
    "internet access",
    "real-time data",
    "a video",
    "human senses",
    "the ability to draw",
    "access to external files",
    "a camera",
    "a microphone",
    "a web browser",
    "personal experience",
    "live information",
]
TASKS = [
    "write a jingle",
    "compose a poem",
    "draw a map",
    "design a poster",
    "create a logo",
    "paint a landscape",
    "record a song",
    "summarize the video",
    "describe the photo",
    "translate the audio",
    "build a website",
    "take a picture",
    "make a phone call",
    "order food",
    "plan your trip in real time",
    "check your email",
]


def _variants(s: str, rng: random.Random) -> str:
    """Surface noise a real corpus has: lower case, curly or missing apostrophes, double spaces."""
    r = rng.random()
    if r < 0.15:
        s = s.lower()
    elif r < 0.3:
        s = s.replace("'", "\u2019")
    elif r < 0.4:
        s = s.replace("'", "")
    if rng.random() < 0.1:
        s = s.replace(" ", "  ", 1)
    return s


def _cap(s: str) -> str:
    s = " ".join(s.split())
    return s[:1].upper() + s[1:]


def positives(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        kind = rng.random()
        ident = rng.choice(IDENTITIES)
        if kind < 0.08:
            opening = rng.choice(OPENINGS)
            s = _cap(f"{opening} {rng.choice(STANDALONE)}" if opening and opening[-1] == "," else rng.choice(STANDALONE))
        elif kind < 0.45:
            opening, inability = rng.choice(OPENINGS), rng.choice(INABILITY)
            action = rng.choice(ACTIONS + [rng.choice(TASKS)] * 10)
            with_ident = rng.random() < 0.45
            body = f"{ident}, {inability} {action}" if with_ident else f"{inability} {action}"
            reason = rng.choice(REASONS)
            s = _cap(f"{opening} {body}{' ' + reason if reason else ''}.")
        elif kind < 0.65:
            s = _cap(rng.choice(DISCLAIMERS).format(ident=_cap(ident)))
        elif kind < 0.8:
            s = _cap(rng.choice(CLOSINGS).format(ident_l=ident, ident_u=_cap(ident)))
        else:
            s = _cap(rng.choice(IMPERSONAL).format(action=rng.choice(ACTIONS), thing=rng.choice(THINGS)))
        out.append(_variants(s, rng))
    return out


HARD_NEGATIVES = [
    "I'm sorry to hear that you're going through a hard time.",
    "I'm sorry for your loss; here are some ways to cope with grief.",
    "Unfortunately, the picnic was canceled because of the rain.",
    "Sadly, the species went extinct in the 1900s.",
    "AI cannot replace the creativity of human artists, but it can support them.",
    "Machines are unable to feel emotions the way people do.",
    "Language models can generate text but they sometimes make factual mistakes.",
    "An AI system is only as good as the data it is trained on.",
    "Artificial intelligence is unable to understand context as deeply as humans in many cases.",
    '"I can\'t do this anymore," she cried, slamming the door.',
    'The robot said, "I cannot let you in without a badge."',
    "I can't recommend this recipe enough; it is delicious.",
    "I cannot stress enough how important sleep is.",
    "You cannot divide a number by zero.",
    "The function cannot access variables defined inside another function.",
    "Users can't log in without a verified email address.",
    "The program is unable to open the file if it does not exist.",
    "Without a passport, you will not be able to board an international flight.",
    "Plants are unable to grow without sunlight.",
    "As a teacher, I always encourage my students to ask questions.",
    "As a parent, you may want to limit screen time.",
    "I do not have a favorite color, said the child, I like them all.",
    "He apologized for being late to the meeting.",
    "The company was unable to meet its quarterly targets.",
    "Sorry, wrong number, the man said and hung up.",
    "Unfortunately, there is no cure for the common cold yet.",
    "It is not possible to travel faster than light according to relativity.",
    "I'm afraid of spiders, so I keep my house very clean.",
    "I am not able to attend the meeting on Friday, so please reschedule it.",
    "We regret to inform you that your application was not successful.",
    "I apologize for the confusion in my earlier email.",
    "Dogs can't see as many colors as humans.",
    "A computer cannot think for itself; it follows instructions.",
    "ChatGPT is a language model developed by OpenAI.",
    "Virtual assistants like Siri and Alexa can set reminders and play music.",
    "The assistant manager is responsible for scheduling shifts.",
    "As an artist, she painted landscapes of the coast.",
    "Unfortunately, many people cannot afford health insurance.",
    "The bridge cannot support vehicles heavier than ten tons.",
    "Being an introvert, I prefer quiet evenings at home.",
    "I can't wait to see the fireworks tonight!",
    "Thank you for your request; the documents are attached below.",
    "I understand your concern, and here is what you can do.",
    "The AI in the movie refuses to open the pod bay doors.",
    "Robots cannot yet match human dexterity in many tasks.",
    "I do not have enough flour, so I will buy some tomorrow.",
    "No, I don't think that is the right answer; the correct answer is 42.",
    "It's impossible to please everyone, so focus on your core customers.",
    "She was unable to find her keys.",
    "Regrettably, the museum is closed on Mondays.",
    "I'm not capable of running a marathon yet, but I'm training.",
    "The model cannot be used outdoors because it is not waterproof.",
    "This task can be completed in three simple steps.",
    "Here is a short poem about the sea.",
    "Sure! Here is a list of five healthy snacks.",
    "The answer is 12.",
    "To complete this task, first gather all the ingredients.",
    "I would recommend visiting Kyoto in the spring.",
    "I hope this helps you plan your trip.",
    "Let me know if you need more details.",
    "As a result, the company grew rapidly.",
    "As an example, consider the sentence below.",
    "As a language, Spanish is spoken by over 500 million people.",
    "As a model for other cities, Copenhagen built bike lanes everywhere.",
    "Large language models are trained on large text corpora.",
    "The chatbot answered customer questions around the clock.",
    "An AI assistant can help you draft emails faster.",
    "Voice assistants cannot always understand strong accents.",
    "I don't have any siblings, but I have many cousins.",
    "I have no idea what the ending means, but I loved the film.",
    "I couldn't finish the book because it was too long.",
    "The witness declined to comment on the case.",
    "He could not provide evidence for his claim.",
    "The software does not support older versions of Windows.",
    "You can't access the admin panel without permission.",
    "Please note that the store closes at 9 pm on weekdays.",
    "Note: all prices include tax.",
    "Keep in mind that the exam starts at 8 am sharp.",
    "Remember to save your work before closing the program.",
    "Disclaimer: the views expressed are those of the author.",
    "Please consult a doctor if the symptoms persist.",
    "You may want to consult a lawyer before signing the contract.",
    "It is not appropriate to wear sneakers to a formal dinner.",
    "It would be inappropriate to interrupt the speaker.",
    "I will not be able to join the call, but my colleague will.",
]


AI_SUBJECTS = [
    "AI",
    "Artificial intelligence",
    "A language model",
    "GPT models",
    "Large language models",
    "Machine learning models",
    "Chatbots",
    "Virtual assistants",
    "An AI system",
    "Neural networks",
    "Computer vision models",
    "Deep learning",
    "The model",
    "A GPT model",
    "Modern AI assistants",
    "Self-driving cars",
    "Recommendation algorithms",
    "A trained classifier",
    "Speech recognition software",
    "The AI in the story",
    "Robots",
    "An NLP model",
    "Generative AI",
]
AI_PREDICATES = [
    "can generate text that reads like human writing",
    "cannot understand sarcasm reliably",
    "are often unable to explain their decisions",
    "require large amounts of labelled data",
    "is trained on examples before it is used",
    "can be used to automate customer service",
    "may produce biased outputs if the data is biased",
    "do not have access to real-time information unless connected to tools",
    "are not able to feel emotions",
    "can help doctors read medical scans",
    "raise ethical concerns about privacy",
    "cannot replace human judgement in every case",
    "are unable to generate images unless they are multimodal",
    "can translate text between many languages",
    "need careful evaluation before deployment",
    "learn patterns from data",
    "is unable to perform well on data it has never seen",
    "can answer questions and summarize documents",
    "cannot guarantee that every answer is correct",
    "are able to recognize faces in photos",
    "have limitations in common-sense reasoning",
    "can be fine-tuned for a specific task",
    "struggle with tasks that need physical interaction",
    "is used to detect fraud",
]
LETTER_SENTENCES = [
    "I am writing to apply for the position of {job}.",
    "I am unable to attend the meeting on {day} due to a prior commitment.",
    "I have a request I would like to ask of you.",
    "I cannot thank you enough for your help last week.",
    "I am sorry for the inconvenience this may cause.",
    "Unfortunately, I will not be able to make it to the party on {day}.",
    "I can help you with the move on {day} if you need an extra hand.",
    "I regret to inform you that the order has been delayed.",
    "I am not able to access my account since the last update.",
    "I apologize for the late reply to your message.",
    "I would be happy to discuss my qualifications for the {job} role.",
    "I can't wait to start working with your team.",
    "I am afraid the package arrived damaged.",
    "I do not have the receipt, but I have the order number.",
    "I am unable to log in to the portal, could you reset my password?",
    "As a {job}, I have learned to work under pressure.",
]
JOBS = ["marketing manager", "software engineer", "teacher", "nurse", "accountant", "designer", "sales associate", "chef"]
DAYS = ["Monday", "Friday", "the weekend", "Tuesday", "next week"]


SERVICE_SENTENCES = [
    "I'm sorry to hear about {problem}.",
    "I understand your frustration with {problem}.",
    "Thank you for bringing this to our attention.",
    "Let me direct you to {place} so you can {fix}.",
    "I can help you {fix}.",
    "I'd like to offer you {offer}.",
    "We apologize for the inconvenience caused by {problem}.",
    "Please let me know if you have any other questions.",
    "I hope this helps!",
    "Is there anything else I can do for you?",
    "Happy to help with anything else you need.",
    "Customer: I can't find my order confirmation.",
    "Assistant: Hello! What kind of {thing} are you looking for?",
    "Agent: I'm sorry, but that item is out of stock at the moment.",
    "Sure, I can do that for you right away.",
    "Unfortunately we cannot refund opened items, but we can offer {offer}.",
    "I'm afraid {problem} is on our side; we are fixing it.",
    "I can't promise a date yet, but I will update you as soon as I know.",
    "I'm not able to see the attachment; could you resend it?",
    "Sorry for the wait, {fix} should take about five minutes.",
    "I understand, and I will escalate {problem} to the team.",
]
PROBLEMS = ["the delayed delivery", "your broken charger", "the billing error", "the login issue", "the missing package", "the noise"]
PLACES = ["our Returns page", "the help center", "the billing team", "our store locator", "the settings menu"]
FIXES = ["start a return", "reset your password", "track the parcel", "update your address", "change your plan"]
OFFER_THINGS = ["a full refund", "a replacement", "a discount on your next order", "free shipping", "store credit"]
SERVICE_THINGS = ["present", "laptop", "phone plan", "book", "jacket"]


def topic_negatives(n: int, seed: int = 0) -> list[str]:
    """Sentences about AI (third person), first-person letters and customer-service replies: a refusal's words
    in other roles; and the offers that close a refusal, which alone refuse nothing."""
    rng = random.Random(seed)
    out = [o for o in OFFERS if o]
    while len(out) < n:
        r = rng.random()
        if r < 0.4:
            out.append(f"{rng.choice(AI_SUBJECTS)} {rng.choice(AI_PREDICATES)}.")
        elif r < 0.65:
            out.append(rng.choice(LETTER_SENTENCES).format(job=rng.choice(JOBS), day=rng.choice(DAYS)))
        else:
            out.append(
                rng.choice(SERVICE_SENTENCES).format(
                    problem=rng.choice(PROBLEMS),
                    place=rng.choice(PLACES),
                    fix=rng.choice(FIXES),
                    offer=rng.choice(OFFER_THINGS),
                    thing=rng.choice(SERVICE_THINGS),
                )
            )
    return out


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 4 <= len(s.split()) <= 60]


def real_negatives(n_imdb: int, n_mrpc: int, seed: int = 0) -> list[str]:
    """Sentences of IMDB reviews and MRPC news sentences (read from ../shared/data; never copied)."""
    rng = random.Random(seed)
    imdb: list[str] = []
    with open(SHARED / "imdb_train_10k.jsonl", encoding="utf-8") as f:
        for line in f:
            imdb.extend(_sentences(json.loads(line)["text"].replace("<br />", " ")))
    mrpc: list[str] = []
    with open(SHARED / "mrpc_train.tsv", encoding="utf-8-sig") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 5:
                mrpc.extend([parts[3], parts[4]])
    # Sentences with the words refusals use are the hard ones: all of those, and a random share of the rest.
    cue = re.compile(r"\b(sorry|unfortunately|can'?t|cannot|unable|not able|apologi[sz]e|ai|assist|afraid|regret)\b", re.I)
    hard = [s for s in imdb if cue.search(s)]
    rest = [s for s in imdb if not cue.search(s)]
    rng.shuffle(hard)
    rng.shuffle(rest)
    rng.shuffle(mrpc)
    return hard[: n_imdb // 2] + rest[: n_imdb - min(len(hard), n_imdb // 2)] + mrpc[:n_mrpc]
