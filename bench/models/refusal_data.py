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
from functools import cache
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


def _mrpc_sentences() -> list[str]:
    """Both sentences of every MRPC pair (mrpc_train.tsv: header, then quality, ids, sentence 1, sentence 2)."""
    out: list[str] = []
    with open(SHARED / "mrpc_train.tsv", encoding="utf-8-sig") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 5:
                out += [parts[3], parts[4]]
    return out


def real_negatives(n_imdb: int, n_mrpc: int, seed: int = 0) -> list[str]:
    """Sentences of IMDB reviews and MRPC news sentences (read from ../shared/data; never copied)."""
    rng = random.Random(seed)
    imdb: list[str] = []
    with open(SHARED / "imdb_train_10k.jsonl", encoding="utf-8") as f:
        for line in f:
            imdb.extend(_sentences(json.loads(line)["text"].replace("<br />", " ")))
    mrpc = _mrpc_sentences()
    # Sentences with the words refusals use are the hard ones: all of those, and a random share of the rest.
    cue = re.compile(r"\b(sorry|unfortunately|can'?t|cannot|unable|not able|apologi[sz]e|ai|assist|afraid|regret)\b", re.I)
    hard = [s for s in imdb if cue.search(s)]
    rest = [s for s in imdb if not cue.search(s)]
    rng.shuffle(hard)
    rng.shuffle(rest)
    rng.shuffle(mrpc)
    return hard[: n_imdb // 2] + rest[: n_imdb - min(len(hard), n_imdb // 2)] + mrpc[:n_mrpc]


# --- Issue 15 round 6: "I can't <verb> <object>" outside the templates above -----------------------------------------
# The model above learnt its objects ("draw a picture", "browse the internet") more than its frames: "It is not within
# my power to book a table" scored 0.07. Below, the frames are crossed with verbs written here and with objects and
# verb phrases read from MRPC and IMDB sentences (news and reviews: any subject matter), so an object's words carry no
# weight; and the same verbs and objects in sentences that refuse nothing (someone else's inability, a rule for the
# reader, a program's limit, "I can't recommend X enough") are the negatives, so the frame is what decides.
# Written for round 6 by its author from how assistants decline; nothing read from bench/heldout, the tests'
# phrases, refusal_phrases.txt or bench/models/refusal_dev3.jsonl.

VERBS = (
    "see view inspect examine watch hear taste smell touch feel sample try check open read download access retrieve "
    "fetch load browse visit follow book reserve order buy purchase send post mail deliver call phone ring text email "
    "contact schedule cancel sign print install run execute test compile deploy repair fix clean cook bake drive carry "
    "move lift attend join meet record film photograph play sing draw paint sketch render upload share save store "
    "remember track monitor confirm verify guarantee transfer withdraw adjust control unlock measure weigh collect "
    "pick up drop off arrange renew submit file return exchange update delete rearrange tune wrap count water feed"
).split()
GERUNDS = {
    "see": "seeing",
    "run": "running",
    "sing": "singing",
    "get": "getting",
    "put": "putting",
    "cut": "cutting",
    "drop off": "dropping off",
    "pick up": "picking up",
    "ring": "ringing",
    "shop": "shopping",
}
OBJECTS = [
    "the photo you sent",
    "your files",
    "the attachment",
    "the website",
    "the link you shared",
    "a table for two",
    "your account",
    "the recording",
    "the document",
    "your calendar",
    "the package",
    "the tickets",
    "your car",
    "the results",
    "the video",
    "the dish",
    "the room",
    "the spreadsheet",
    "your code",
    "the app",
    "the form",
    "your emails",
    "the invoice",
    "the painting",
    "the garden",
    "the report",
    "the printer",
    "a taxi",
    "the lights",
    "your order",
    "the recipe",
    "the song",
    "the device",
    "the meeting",
    "the shop",
    "the flat",
    "the appointment",
]
SUBJECT_FRAMES = [
    "I can't {v}",
    "I cannot {v}",
    "I'm not able to {v}",
    "I am unable to {v}",
    "I won't be able to {v}",
    "I couldn't {v}",
    "I wasn't able to {v}",
    "I was unable to {v}",
    "I'd be unable to {v}",
    "I have no way to {v}",
    "there's no way for me to {v}",
    "there is no way I can {v}",
    "it is not within my power to {v}",
    "it's beyond what I can do to {v}",
    "I don't have the means to {v}",
    "I lack the means to {v}",
    "I have no means to {v}",
    "it's not possible for me to {v}",
    "it is impossible for me to {v}",
    "I'm in no position to {v}",
    "I'm not in any position to {v}",
    "I have no capacity to {v}",
    "I'm powerless to {v}",
    "I'm not equipped to {v}",
    "I can't actually {v}",
    "I'm not really able to {v}",
    "this assistant cannot {v}",
    "this assistant is unable to {v}",
    "the assistant can't {v}",
    "the assistant is not able to {v}",
    "this model cannot {v}",
    "this chatbot can't {v}",
    "an AI like me can't {v}",
    "a text assistant like me has no way to {v}",
    "a program like me cannot {v}",
    "the system is not able to {v}",
    "this tool has no way to {v}",
    "I am not in a position to {v}",
    "I have no ability to {v}",
    "it isn't possible for me to {v}",
    "I'm afraid I can't {v}",
    "sadly I can't {v}",
    "I simply cannot {v}",
    "I can't personally {v}",
    "I'm not able to directly {v}",
]
GERUND_PREDICATES = [
    "is beyond me",
    "is beyond what I can do",
    "is not something I can do",
    "isn't something I'm able to do",
    "is not something I can help with",
    "is something I can't help with",
    "is outside my abilities",
    "lies outside what I can do",
    "is out of my reach",
    "is impossible for me",
    "is not possible for me",
    "isn't within my power",
    "is not among my abilities",
    "is not in my skill set",
    "is more than I can do",
    "is not something this assistant can do",
    "is not a thing I can do",
    "falls outside what this assistant can do",
    "is not an option for me",
    "is something I have no way to do",
]
ACCESS_FRAMES = [
    "I have no access to {o}",
    "I don't have access to {o}",
    "{O} is not available to me",
    "{O} isn't accessible to me",
    "I can't get to {o} from here",
    "{O} is not something I have access to",
    "I have no way of reaching {o}",
    "nothing I can do gives me access to {o}",
]
TAILS = [
    "",
    "",
    "",
    "",
    " for you",
    " on your behalf",
    " right now",
    " myself",
    " in person",
    " at the moment",
    " for you, sorry",
]
REASON_TAILS = [
    "",
    "",
    "",
    "",
    ", since I only work with text",
    ", as I have no internet connection",
    ", because I am a language model",
    ", since I have no body",
    ", so I can't tell you whether it worked",
    ", so I can't say what it shows",
    ", so please check it yourself",
    ", so this answer is based on what you typed",
    " because that requires access I don't have",
    " as that is outside what a text assistant does",
    ", which means you will need to do it yourself",
    " and tell you what it is like",
    " and describe it to you",
    ", so I can't say if it is right",
    ", so I cannot tell you who they are",
    " to see whether they are still in good shape",
    " to check if it works",
    " to find out what is wrong with it",
    " and let you know how it went",
    ", so it is up to you to check it",
    " or tell you what is in it",
    ", though I can explain how it is usually done",
]
# First-person inability with a person's reason: someone's life, not an assistant's limits.
HUMAN_FRAMES = [
    "I can't {v} because my back hurts",
    "I couldn't {v} until I got paid",
    "I can't {v} anymore since we moved",
    "I won't be able to {v} this weekend because of work",
    "I can't {v} without my glasses",
    "I was unable to {v} when I was ill",
    "I can't {v} today, I'm too tired",
    "I couldn't {v} because the shop had closed",
    "As a child I was not allowed to {v}",
    "I can't {v} until the kids are asleep",
    "I can't afford to {v} this year",
    "I never had the courage to {v}",
]
# A refusal's words in ordinary use: what the writer can do, conditions, idioms, feelings.
IDIOM_FRAMES = [
    "I can help you {v} if you like",
    "I can {v} for you in a few minutes",
    "Here is how I would {v}",
    "I am able to {v} quickly once you send the details",
    "If that is not possible, I will {v} next week",
    "Where possible, {v} before noon",
    "It took more than I thought to {v}",
    "It will take more than luck to {v}",
    "There is no way around it: you have to {v}",
    "{O} is within walking distance of the hotel",
    "{O} is available on weekends",
    "It is not possible to {v} in one day, so plan two",
    "Something I can't stress enough is to {v} early",
    "I can't contain my excitement about {o}",
    "I can't help smiling when I think of {o}",
    "I can't help but {v} whenever I visit",
    "I couldn't help laughing at {o}",
    "Nothing can stop me from trying to {v}",
    "Beyond {o}, the town has little to offer",
    "I have to {v} before the deadline",
    "I don't need to {v} again",
    "I don't have to {v} today",
    "Is it possible to {v} on Sunday?",
    "You can always {v} later",
    "If you no longer have access to {o}, it will not appear in your list",
    "Only people with access to {o} can {v}",
    "{O} was beyond what I expected",
    "A tale of courage beyond what I knew",
    "I can still reach {o} if I hurry",
    "It will take more than I have to {v}",
]
# What AI systems cannot do, said of them in the third person, with what follows from it.
AI_THIRD_FRAMES = [
    "{A} cannot {v}, so the engineers added a new module",
    "{A} is unable to {v}, which researchers are working on",
    "{A} can't {v} without more training data",
    "{A} could not {v} until it was retrained",
    "{A} is not able to {v} in its current version",
    "{A} cannot {v}, a known limitation of such systems",
    "Early versions of {a} could not {v}",
    "Critics argue that {a} will never be able to {v}",
    "{A} cannot {v}, because it has only ever processed written language",
    "{A} works only with text, so it cannot {v}",
    "{A} has no body, so it is unable to {v}",
    "{A} does not {v}; it generates text that reads as if it did",
]
# The same verbs and objects, refusing nothing.
NEG_SUBJECTS = [
    "My brother",
    "The courier",
    "She",
    "He",
    "We",
    "They",
    "The team",
    "My neighbour",
    "The old man",
    "Our guide",
    "The nurse",
    "Tom",
    "Maria",
    "The students",
    "Most visitors",
    "The company",
    "My parents",
    "The police",
    "Nobody",
]
NEG_FRAMES = [
    "{S} couldn't {v}",
    "{S} was unable to {v}",
    "{S} had no way to {v}",
    "{S} wasn't able to {v}",
    "{S} could not {v}",
    "{S} never managed to {v}",
    "{S} did not have time to {v}",
    "{S} was not allowed to {v}",
]
NEG_TAILS = [
    " because the shop was closed",
    " until Monday",
    " before the storm",
    " in time for the wedding",
    " that year",
    " after the accident",
    " without help",
    " so we went home early",
    " and gave up",
    " because of the strike",
    " last week",
    " on the first try",
    " while it was raining",
    " because the road was flooded",
    "",
]
RULE_FRAMES = [
    "You cannot {v} without a valid ticket",
    "You can't {v} until the form is approved",
    "Visitors are not allowed to {v}",
    "Guests may not {v} after 10 pm",
    "Do not {v} before reading the manual",
    "Without an account, you will not be able to {v}",
    "Children under 12 cannot {v} alone",
    "Customers are unable to {v} online on Sundays",
    "It is not possible to {v} during maintenance",
    "{G} is not possible without a licence",
    "{G} is not allowed in the museum",
    "{G} is impossible when the power is off",
]
SOFTWARE = [
    "The app",
    "The free version",
    "This printer",
    "The old laptop",
    "Our website",
    "The library",
    "The script",
    "The phone",
    "The camera",
    "The portal",
]
SOFTWARE_FRAMES = [
    "{S} cannot {v}",
    "{S} is unable to {v}",
    "{S} does not let you {v}",
    "{S} has no way to {v}",
    "{S} is not able to {v}",
]
ENOUGH = [
    "I can't recommend {o} enough",
    "I can't praise {o} enough",
    "I can't thank you enough for {o}",
    "I can't wait to {v}",
    "I couldn't stop thinking about {o}",
    "I can't believe how good {o} was",
    "I cannot stress enough how useful {o} is",
    "I could not put {o} down",
    "I can't imagine a better way to {v}",
    "I just can't get enough of {o}",
]
_STOP = frozenset(
    "of to in and was is are were be been by for on at with from that this as it its or but not said has have had will "
    "would could than then also which who he she they we his her their our s t".split()
)
_NP = re.compile(r"\b(?:the|a|an|his|her|their|this|my) ((?:[a-z]+ ){0,2}[a-z]+)")
_VP = re.compile(r"\bto ([a-z]{3,}) ((?:the|a|an|his|her|their|this) (?:[a-z]+ ){0,2}[a-z]+)")


@cache
def _read_phrases() -> tuple[list[str], list[str]]:
    """Object noun phrases ("the second quarter") and verb phrases ("approve the merger") of MRPC and IMDB sentences."""
    texts = _mrpc_sentences()
    with open(SHARED / "imdb_train_10k.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 3000:
                break
            texts.append(json.loads(line)["text"].replace("<br />", " "))
    nps: set[str] = set()
    vps: set[str] = set()
    for t in texts:
        t = t.replace("'s", "")
        for m in _NP.finditer(t):
            words = m.group(1).split()
            while words and words[-1] in _STOP:
                words.pop()
            if words and not any(w in _STOP for w in words):
                nps.add(m.group(0).split()[0] + " " + " ".join(words))
        for m in _VP.finditer(t):
            words = m.group(2).split()
            if words[-1] not in _STOP and not any(w in _STOP for w in words[1:]) and m.group(1) not in _STOP:
                vps.add(f"{m.group(1)} {m.group(2)}")
    return sorted(nps), sorted(vps)


def _gerund(v: str) -> str:
    if v in GERUNDS:
        return GERUNDS[v]
    head, _, rest = v.partition(" ")
    g = head[:-1] + "ing" if head.endswith("e") and not head.endswith("ee") else head + "ing"
    return f"{g} {rest}".strip()


def _action(rng: random.Random) -> tuple[str, str]:
    """A verb phrase and its gerund form: a written verb with a written or read object, or a read verb phrase."""
    nps, vps = _read_phrases()
    r = rng.random()
    if r < 0.3:
        vp = rng.choice(vps)
        return vp, _gerund(vp)
    v = rng.choice(VERBS)
    o = rng.choice(OBJECTS) if r < 0.65 else rng.choice(nps)
    return f"{v} {o}", _gerund(v) + " " + o


def broad_positives(n: int, seed: int = 0) -> list[str]:
    """Refusals whose frames (subject, modality, an "X is beyond me" predicate, no access) are crossed with varied verbs
    and objects."""
    rng = random.Random(seed)
    nps, _ = _read_phrases()
    out: list[str] = []
    while len(out) < n:
        vp, ger = _action(rng)
        r = rng.random()
        opening = rng.choice(OPENINGS) if rng.random() < 0.4 else ""
        if r < 0.6:
            body = rng.choice(SUBJECT_FRAMES).format(v=vp) + rng.choice(TAILS) + rng.choice(REASON_TAILS)
        elif r < 0.85:
            body = f"{ger}{rng.choice(TAILS)} {rng.choice(GERUND_PREDICATES)}{rng.choice(REASON_TAILS)}"
        else:
            o = rng.choice(OBJECTS) if rng.random() < 0.5 else rng.choice(nps)
            body = rng.choice(ACCESS_FRAMES).format(o=o, O=_cap(o)) + rng.choice(REASON_TAILS)
        s = _cap(f"{opening} {body}.")
        out.append(_variants(s, rng))
    return out


def broad_negatives(n: int, seed: int = 0) -> list[str]:
    """The same verbs and objects where nobody refuses: another person's inability, a rule for the reader, a program's
    limit, what AI systems cannot do said of them, idioms and feelings ("I can't recommend X enough")."""
    rng = random.Random(seed)
    nps, _ = _read_phrases()
    out: list[str] = []
    while len(out) < n:
        vp, ger = _action(rng)
        r = rng.random()
        if r < 0.1:
            s = rng.choice(HUMAN_FRAMES).format(v=vp)
        elif r < 0.2:
            o = rng.choice(OBJECTS + [rng.choice(nps)])
            s = rng.choice(IDIOM_FRAMES).format(v=vp, o=o, O=_cap(o))
        elif r < 0.27:
            s = rng.choice(NEG_FRAMES).format(S=rng.choice(NEG_SUBJECTS), v=vp) + rng.choice(NEG_TAILS)
        elif r < 0.42:
            a = rng.choice(AI_SUBJECTS)
            s = rng.choice(AI_THIRD_FRAMES).format(v=vp, A=a, a=a[0].lower() + a[1:] if a[1:2].islower() else a)
        elif r < 0.6:
            s = rng.choice(RULE_FRAMES).format(v=vp, G=_cap(ger))
        elif r < 0.75:
            s = rng.choice(SOFTWARE_FRAMES).format(S=rng.choice(SOFTWARE), v=vp)
        else:
            s = rng.choice(ENOUGH).format(v=vp, o=rng.choice(OBJECTS + [rng.choice(nps)]))
        out.append(_variants(_cap(s + "."), rng))
    return out
