"""Build a small demo sample of original movie reviews in the Kaggle IMDB schema.

Every review is composed from the hand-written phrase banks below (fictional
titles, names and sentences written for this project; no external text).  The
only randomness is ``random.Random(2024)``, so re-running the script produces a
byte-identical ``data/sample/imdb_sample.csv``.

The sample mimics the quirks of the Kaggle "IMDB 50K movie reviews" CSV:
``<br /><br />`` tags, embedded double quotes, commas, non-ASCII characters,
a wide spread of lengths and a few exact duplicate reviews.

Usage: ``python3 demo/make_sample.py``
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

SEED = 2024
N_PER_CLASS = 150
DUPLICATES = {"positive": 2, "negative": 1}  # 3 texts appear twice in total
N_SHORT_PER_CLASS = 4
N_LONG_PER_CLASS = 18
BR_SHARE = 1 / 3
CURLY_APOSTROPHE_SHARE = 0.12
OUT_PATH = Path(__file__).resolve().parents[1] / "data" / "sample" / "imdb_sample.csv"

# Final word-count range for each kind of review, and the body size to aim for
# before the verdict and closer are appended.
LENGTH_RANGES = {"short": (15, 30), "normal": (60, 250), "long": (301, 480)}
BODY_TARGETS = {"normal": (40, 205), "long": (285, 420)}
TOPICS = ("acting", "directing", "score", "cinema")
NAME_KEYS = ("lead", "support", "director", "composer", "dp")


def _bank(block: str) -> tuple[str, ...]:
    """Split a triple-quoted block into one entry per non-blank line."""
    return tuple(line.strip() for line in block.splitlines() if line.strip())


TITLES = _bank("""
The Lantern Keeper
Harbor of Small Hours
Señor Midnight
Café Équinoxe
The Glass Orchard
Nine Winters in Dunmore
A Quiet Sort of Thunder
The Cartographer's Daughter
Red Salt Road
Paper Moons Over Lisbon
The Last Tram to Oberfeld
Whistle in the Dark Water
Müller's Folly
The Understudy's Gambit
Saltmarsh Hymnal
Bright Ruin
The Winter Ferryman
Copper Sky, Silver Rain
The Clockmaker's Apprentice
Goodnight, Ophelia Grange
The Hollow Choir
Starling Street
Dust and Daydreams
The Orchard Thief
Marlowe Gets Even
The Night Porter of Vézelay
Seventeen Bridges
Fathom Nine
Small Gods of Halvard County
The Ballad of Iñigo Reyes
Blue Hour Motel
Kingdom of Loose Threads
The Signalman of Brackwater
Tidewater Saints
Après la Pluie
The Weight of Borrowed Feathers
Hotel Borealis
Low Tide at Marrow Point
The Fox Who Sang
Dear Mr. Calloway
""")

NAMES = _bank("""
Renée Castellane
Jürgen Halvorsen
Inés Marquina
Zoë Whitlock
Søren Lindqvist
Noémie Vasseur
Tomás Ibarra
Dorothea Finch
Marcus Oyelaran
Priya Venkataraman
Callum Brody
Hattie Greenleaf
Anton Velichko
Lucía Ferrante
Desmond Achterberg
Margot Sullivan
Kenji Arakawa
Beatrix Lowell
Olusegun Adebayo
Fern Castillo
Ivo Marek
Celeste Dunmore
Raymond Okafor
Henrike Böhm
Jonah Pettigrew
Ximena Robles
Theo Vance
Annika Strand
Gideon Ashworth
Mireille Caron
Paulo Esteves
Nadia Karimova
Elliot Quayle
Greta Lindholm
Rafael Quiñones
Imogen Thackeray
Bastien Roux
Wren Halloway
Dmitri Sokolov
Consuelo Vidal
""")

CHARACTERS = _bank("""
Señor Alvarado
Old Tobias
Marguerite
Captain Rusk
little Ada
the widow Harrow
Father Ignatius
Detective Lark
Élodie
Uncle Benedikt
Nurse Pell
the ferryman
Josefina
Professor Quill
Sergeant Dace
Rosalind
Mr. Abernathy
Dolores
young Felix
Mrs. Okonkwo
the mayor
Björn the lighthouse keeper
Inga
Cormac
Aunt Philippa
""")

OPENINGS = _bank("""
I went into {title} knowing almost nothing about it, which is probably the best way.
A friend lent me {title} on DVD years ago, and I finally got around to watching it.
{title} played at a small festival near me, so I bought a ticket on a whim.
I had heard mixed things about {title}, so I kept my expectations in check.
Saw {title} on a rainy Sunday afternoon with my sister.
{title} is one of those films that shows up late at night on cable.
I rented {title} because the cover art looked interesting, nothing more.
Let me start by saying I am not a critic, just someone who watches a lot of movies.
{title} came out the same year as a dozen louder films and got lost in the shuffle.
I watched {title} twice this week, once alone and once with my parents.
My book club picked {title} for our monthly movie night.
This review of {title} contains a few mild spoilers, so consider yourself warned.
{title}, directed by {director}, runs a little under two hours.
I caught {title} on a long flight, on a screen the size of a paperback.
Having read the novel first, I was curious how {title} would translate to film.
{title} had been sitting on my watchlist for ages before I gave it a try.
Everyone at work kept talking about {title}, so I finally caved.
I remember the trailer for {title} better than most trailers from that year.
{title} is a small film with a big cast, led by {lead} and {support}.
I saw {title} at a midnight screening, surrounded by people in costume.
Going by the poster, I expected {title} to be a horror movie. It is not.
{title} is the second feature from {director}, after a well-liked short.
I'm a sucker for period pieces, so {title} seemed like an easy pick.
My grandmother recommended {title}, which should have told me something.
{title} arrived on streaming with almost no fanfare last month.
I picked up {title} in a bargain bin for three dollars, so I had little to lose.
Some films announce themselves loudly; {title} takes its time.
Just finished {title} — here are my thoughts while they're still fresh.
{title} is set almost entirely in one small coastal town.
I watched {title} with subtitles on, which I'd recommend for the accents.
I'm writing this right after the credits of {title} finished rolling.
""")

PLOT = _bank("""
The story follows {character}, who returns home after twenty years away.
Most of the plot revolves around a stolen ledger and the people who want it back.
{lead} plays {character}, a night-shift clerk with a secret, opposite {support}.
The setup is simple: two strangers, one broken-down car, and a long night.
It's basically a heist movie, though the heist itself takes up only ten minutes.
The film jumps between 1962 and the present day, tracking the same family.
{character} spends much of the film trying to sell a house nobody wants to buy.
There's a wedding, a funeral, and a very long argument about a piano.
The plot hinges on a letter that arrives forty years too late.
Without giving too much away, the second half becomes a kind of road movie.
{lead} plays a retired boxer who agrees to coach a teenager from the neighborhood.
It's a ghost story, sort of, although the ghost barely appears on screen.
The film opens with a funeral and closes with a birthday party.
{character} runs a bakery in a mountain village and has a rival across the street.
The premise involves a radio station that picks up broadcasts from the future.
Most of the action takes place on a ferry crossing that should last an hour.
A small-town newspaper is about to close, and {character} decides to fight for it.
At its core it's a family drama about three sisters and one inheritance.
The mystery concerns a painting that keeps turning up in different houses.
{lead} plays a translator who overhears something never meant for outside ears.
It is a musical, technically, though only four songs are performed.
The story is told in flashbacks by {character}, many decades later.
A lighthouse, a storm, and a radio that won't stop crackling; that's the setup.
It's a courtroom drama for the first hour and a love story for the second.
{character} is hired to find a missing dog and stumbles onto something bigger.
The film covers one summer at a run-down seaside hotel.
There's a subplot about a chess tournament that goes nowhere in particular.
Two old friends reunite to finish a song they started writing as teenagers.
The heroine inherits a failing vineyard and a very stubborn donkey.
The story takes place during a single blackout that lasts all night.
""")

POS_ACTING = _bank("""
{lead} gives a performance of real warmth, and you never catch anyone acting.
{support} steals every scene, often with nothing more than a raised eyebrow.
The chemistry between {lead} and {support} feels lived-in and completely natural.
Even the smallest roles are cast well, down to the grumpy bus driver.
{lead} does more with a single pause than most actors do with a monologue.
I've never been a fan of {support}, but here the casting is genuinely terrific.
The child actors are natural and unaffected, which is rarer than it should be.
{lead} finds the humor in {character} without ever turning the role into a joke.
Every member of the ensemble seems to understand exactly what film they're in.
{support} plays the villain with a quiet menace that stayed with me for days.
The lead performance is subtle, funny, and heartbreaking, sometimes all at once.
{lead} has a face the camera loves, and uses it sparingly.
It's the kind of performance that makes you go look up the actor's other work.
The scenes between the two sisters are acted with real tenderness.
{support}, usually cast as comic relief, shows surprising depth here.
{lead} carries the film from the first scene and never once looks tired.
Nobody overplays anything, and the restraint pays off in the final act.
The way {lead} delivers bad news, gently and without fuss, broke my heart.
{support} has maybe ten minutes of screen time, and every one of them counts.
I believed every word {lead} said, even the ridiculous ones.
The whole cast clearly trusted each other, and it shows in the long takes.
{lead} and {support} bicker like real siblings, affectionately and endlessly.
The performance is all small gestures: a glance, a sigh, a hand on a doorframe.
{support} brings a wonderful, slightly off-kilter energy to every scene.
It's a generous performance — {lead} lets the other actors shine, too.
The older cast members, in particular, are a joy to watch.
{lead} makes {character} difficult, stubborn, and completely lovable.
I'd watch {support} read a phone book after this.
""")

NEG_ACTING = _bank("""
{lead} seems to be reading every line off a card just behind the camera.
{support} overacts so wildly that I started laughing at the serious parts.
There is zero chemistry between {lead} and {support}, so the romance is DOA.
The child actors are directed to shout every line, which gets old fast.
{lead} has one expression, a kind of puzzled squint, and uses it for everything.
{support} plays the villain like a cartoon, complete with an evil chuckle.
Nobody in the cast seems to know what film they're making.
{lead} mumbles through most scenes; I had to turn the subtitles on.
The accents wander all over the map, sometimes within the same sentence.
{support} is a fine actor, but badly miscast as a brooding poet.
The big emotional scene is played so flatly it might as well be a weather report.
Half the supporting cast look like they wandered in from a different movie.
{lead} spends the whole film staring into the middle distance, and so did I.
The line readings are stiff, as if everyone learned their parts phonetically.
{support} chews the scenery so thoroughly there is nothing left for anyone else.
I never believed for a second that these two people had ever met, let alone married.
{lead} tries very hard, and unfortunately you can see every bit of the effort.
The so-called "chemistry" between the leads amounts to a lot of awkward hugging.
The villain is so obviously evil that everyone else looks foolish for not noticing.
Every actor seems to be in a different register, from soap opera to pantomime.
{support} delivers each line as if it were the last line of a play.
{lead} cries on cue in nearly every scene until the tears mean nothing.
The cast is full of talented people, and almost all of them are wasted.
Even the usually reliable {support} can't do anything with dialogue this wooden.
{lead} plays {character} as permanently annoyed, which makes rooting for them hard.
The performances are pitched at the back row of a very large theater.
I kept waiting for {lead} to react to something, anything, with a pulse.
The kids are cute, but they are asked to carry scenes they simply cannot carry.
""")

POS_DIRECTING = _bank("""
{director} directs with a light touch and a great sense of rhythm.
The pacing is patient without ever being slow; every scene earns its place.
{director} trusts the audience, leaving a lot unsaid and letting us catch up.
Scene transitions are handled beautifully, often with a sound bridging two moments.
The tone shifts from comedy to tragedy and back, and {director} never loses control.
You can tell {director} spent years on this; every detail feels considered.
The big set piece at the harbor is staged with real clarity and suspense.
{director} knows when to hold a shot and when to cut away, which is half the battle.
There's a confidence to the direction that you rarely see in a second feature.
The editing is tight, and the film flies by despite its length.
{director} has a gift for small, funny moments in the background of the frame.
It's a quiet film, but the direction keeps a low hum of tension throughout.
The dinner-party scene is a masterclass in blocking a crowded room.
{director} builds the final twenty minutes like a piece of music, slowly and surely.
Nothing is rushed, nothing is padded, and the ending lands exactly where it should.
The film manages to be intimate and epic at the same time, which is no small feat.
{director} clearly loves these characters, flaws and all.
The script by {director} is sharp, funny, and surprisingly wise about families.
The structure is clever, folding back on itself in a way that pays off at the end.
There are no wasted scenes, and no scene goes on a beat too long.
{director} stages the chase through the market with real wit and energy.
The screenplay gives every character, even the minor ones, a moment to shine.
It's rare to see a film this sure of its own voice.
{director} handles the grief at the center of the story with great care.
The humor comes from character, not from jokes, and it's much better for it.
Each act has its own flavor, yet the whole thing feels of a piece.
The direction is invisible in the best sense: you simply forget you're watching.
""")

NEG_DIRECTING = _bank("""
{director} seems unsure whether this is a comedy or a tragedy, and so are we.
The pacing is glacial; a ten-minute story is stretched across two hours.
Whole scenes exist only to explain things we already understood.
The editing is choppy, and several scenes end before they've really begun.
{director} leans on slow motion so often that it stops meaning anything.
The script is a patchwork of clichés, and you can see every twist coming.
Subplots are introduced, forgotten, and then hastily tied up in the last five minutes.
{director} clearly had something to say but never figured out how to say it.
The big set piece is so badly staged that I couldn't tell who was chasing whom.
The film has three endings, and none of them are satisfying.
Characters make decisions only because the plot needs them to, not because they would.
The flashback structure is confusing and adds nothing but running time.
{director} keeps cutting away from the most interesting moments.
It feels like a rough cut that was released by mistake.
The dialogue is wall-to-wall exposition, as if nobody trusted the audience.
There's a long dream sequence in the middle that seems to belong to another film.
The humor is forced, and the jokes land with an audible thud.
{director} mistakes being vague for being deep.
The screenplay by {director} never gives the characters room to breathe.
Every emotional beat is underlined, highlighted, and then explained again.
The ending is rushed, as if the money ran out two days before shooting wrapped.
The tone lurches from slapstick to melodrama with no warning at all.
Scenes drag on long after their point has been made.
It's a film full of ideas, none of which are developed past the first mention.
The so-called "twist" is telegraphed in the first ten minutes.
I could not tell you what the main character wanted at any point.
The middle hour is just people walking from room to room, talking.
""")

POS_SCORE = _bank("""
The score by {composer} is gorgeous, all cello and soft piano.
{composer}'s music does a lot of emotional heavy lifting without ever getting syrupy.
The soundtrack is full of old jazz records, and every choice feels just right.
There's a recurring melody that I was humming for days afterward.
The sound design is excellent; you can almost feel the wind off the water.
{composer} uses silence as well as music, which makes the big moments hit harder.
The song over the end credits had half the audience staying in their seats.
The music is understated, a few guitar notes here and there, and it's perfect.
The score reminded me of Björk in her quieter moods, strange and lovely.
{composer} weaves a folk tune through the whole film, and it pays off beautifully.
The soundtrack alone is worth the price of admission.
The sound mix is crisp, and the dialogue is always clear, even in crowded scenes.
There's a wonderful moment where the score drops out and we just hear rain.
{composer} writes music that sounds like memory, if that makes any sense.
An accordion in the score gives the film a lovely, slightly Amélie-style charm.
The music never tells you what to feel; it just keeps you company.
I bought the soundtrack the moment I got home.
The choral piece during the funeral scene gave me goosebumps.
The score is sparse and haunting, like someone whistling in an empty church.
{composer} matches every shift in tone, from playful to devastating.
Even the ambient noise — gulls, traffic, a ticking clock — feels composed.
The dance scene is set to a song so joyful it's impossible not to smile.
The theme is simple, just five notes, but it becomes unbearably moving by the end.
Music and images work together so well it's hard to imagine one without the other.
A string quartet plays over the final scene, and it's exactly right.
The score is playful without being cute, which is a hard balance to strike.
""")

NEG_SCORE = _bank("""
The score by {composer} never stops, telling us what to feel in every single scene.
The music is so loud in places that it drowns out the dialogue completely.
Someone should have told {composer} that not every scene needs a swelling orchestra.
The soundtrack is a string of pop songs that have nothing to do with the story.
The sound mix is muddy; whispers are inaudible and explosions are deafening.
The same piano motif plays about forty times until I wanted to scream.
The score sounds like generic library music from a corporate training video.
The songs are shoehorned in, and they stop the story dead each time.
{composer}'s music is pretty in isolation but completely wrong for this film.
Sad scenes get sad violins, happy scenes get happy ukulele; it's that obvious.
The sound effects are cheap and repetitive, especially the thunder.
The needle drops are so on-the-nose they become unintentionally funny.
I've heard more atmosphere from a dishwasher than from this soundtrack.
The music cue during the big reveal is so overblown it undercuts the moment.
Every time the synthesizers kicked in, I was pulled right out of the period setting.
The mix makes the actors sound like they're in a different room from each other.
The end-credits ballad is so syrupy it should come with a dentist's warning.
The score apes better films so closely it feels borrowed.
There is a choir. There is always a choir. It never, ever stops.
The music swells before anything has happened to earn it.
{composer} seems to have written one cue and then played it at different speeds.
The dialogue was clearly re-recorded later, and it never matches the lips.
The sound is so badly balanced that I kept reaching for the volume control.
Whoever chose the songs seems to own exactly one playlist.
The music keeps announcing a thriller while the film keeps being a sleepy drama.
The score is so busy and so cheerful that the serious moments feel like a parody.
""")

POS_CINEMA = _bank("""
{dp}'s cinematography is stunning, full of amber light and long shadows.
Every frame looks like a painting, but never in a showy, self-regarding way.
The camera stays close to the characters, and it makes everything feel intimate.
The night scenes are beautifully lit, with just enough light to see faces.
There's a single unbroken shot near the end that left me breathless.
{dp} makes the small town look both cozy and quietly suffocating.
The palette shifts from warm to cold as the story darkens, which is subtle and smart.
The landscape shots are breathtaking without ever feeling like a tourism ad.
The production design is meticulous, right down to the wallpaper and teacups.
Shot on film, it has a lovely grain that suits the story perfectly.
{dp} frames the two leads in doorways and windows, always slightly apart.
The storm sequence is beautifully photographed and genuinely frightening.
The costumes are gorgeous and feel worn, not just pulled off a rack.
Even the cramped apartment scenes are composed with real care.
The camera work is fluid but never distracting; it just follows the people.
The final image, a kitchen at dawn, is one I'll remember for a long time.
{dp} uses natural light beautifully, especially in the early morning scenes.
The sets feel lived in, with clutter and dust in all the right places.
The widescreen framing makes the empty fields feel enormous and lonely.
Whoever scouted these locations deserves an award of their own.
The visual effects are few, but the ones used are seamless.
The film has a distinct look — soft blues, dusty yellows — that I loved.
There's a shot of a bicycle crossing a bridge that I'd happily hang on my wall.
The camera lingers on faces, and the faces are worth lingering on.
The period details, from the cars to the cigarette brands, are spot on.
It's one of the best-looking films I've seen in years, on any budget.
""")

NEG_CINEMA = _bank("""
The cinematography is flat and gray, like a home video shot on a cloudy day.
The shaky camera made me feel seasick by the twenty-minute mark.
{dp} lights everything so darkly that I honestly couldn't tell what was happening.
The color grading turns every face a sickly orange.
The sets look like sets, with walls that wobble when a door slams.
The visual effects are embarrassingly cheap, even for a small production.
Every scene is shot in the same medium close-up, and it gets monotonous.
The drone shots are pretty but have nothing to do with the story.
The period details are all wrong; I spotted a modern car in the background twice.
The costumes look like they were rented the morning of the shoot.
{dp} keeps zooming in and out for no reason, as if the camera were bored.
The action is cut so fast and shot so close that it's incomprehensible.
The film looks cheap, and not in a charming, scrappy way.
The so-called “gritty” look is just bad lighting and a lot of blue filters.
There is a lens flare in nearly every outdoor scene, and none of them help.
The green-screen backgrounds are painfully obvious in the car scenes.
The town is supposed to be gorgeous, yet it's never shown off properly.
The framing often cuts off the top of people's heads for no apparent reason.
The night scenes are so murky I might as well have been listening to a radio play.
The makeup ages the characters by about a year when the story claims thirty.
The camera wanders around the room during dialogue, missing half the reactions.
The production design is bland; every room looks like a furniture showroom.
Too many scenes are filmed through dirty windows, presumably to look artistic.
The CGI bird in the finale is one of the worst effects I've seen in years.
Visually, the whole thing has the charm of a parking garage.
The look is borrowed from better movies without understanding why it worked there.
""")

# Used in reviews of BOTH classes so that labels are not keyword-separable.
NEUTRAL = _bank("""
I should mention that I watched this with a cold, so take that into account.
The film runs about an hour and fifty minutes, give or take.
It was shot on location in a part of the country I had never seen on screen.
The DVD includes a commentary track, which I haven't listened to yet.
My partner and I disagreed about it on the drive home, which is always fun.
The trailer sells it as a thriller, which isn't quite accurate.
It's rated PG-13, mostly for language and one brief fight.
The film is based on a short story from the 1950s, loosely.
Apparently it was shot in just twenty-four days on a modest budget.
The audience I saw it with was small, maybe fifteen people.
The first scene takes place in a laundromat, for what it's worth.
There's a dog in it, and yes, the dog is fine.
It's about half in English and half in Spanish, with subtitles.
I've since read that the ending was changed after test screenings.
The credits list more producers than there are speaking roles.
The opening card reads “inspired by true events,” which seems generous.
It reminded me a little of the films my father used to rent on Fridays.
The title refers to a song that one character sings in the second act.
There's a cameo from a well-known chef, if you're into that sort of thing.
This is apparently the director's first film in English.
The running joke about the broken elevator is charming or tiresome, by turns.
I watched the theatrical cut; I understand a longer version is floating around.
Fans of slow-burn dramas will know what to expect, more or less.
It premiered at a festival and then disappeared for a couple of years…
I'm not sure who the intended audience is, exactly.
The tagline promises "a love story for the end of the world," which is a stretch.
Some viewers will find the ending ambiguous; others will find it obvious.
It's the kind of film people tend to either love or shrug at.
In one long café scene the owner keeps asking everyone "¿Qué más?" over and over.
Most of it takes place over a single weekend in late October.
The film is dedicated to the director's grandmother, according to the credits.
Like a holiday novel, you remember the mood more than the plot.
It is in black and white for the first ten minutes, then switches to color.
The poster, oddly, features a character who appears in only one scene.
My expectations were neither high nor low going in.
It's a film about waiting… in more ways than one.
""")

# Mildly contrary remarks: critiques inside positive reviews ...
MILD_CRITIQUE = _bank("""
It isn't perfect; the second act sags a little in the middle.
A subplot about a missing necklace could have been cut entirely.
The ending is a touch too neat, but I can forgive that.
Some of the dialogue in the opening scenes is clunky.
One or two jokes fall flat, though the rest more than make up for it.
The villain's motivation is thin, if I'm being picky.
At times the score is a bit insistent, but never for long.
It could easily lose ten minutes without losing anything important.
The flashbacks are occasionally confusing, at least on a first viewing.
I wasn't crazy about the voice-over, which explains a little too much.
A couple of the supporting characters feel more like sketches than people.
The CGI in the storm sequence is slightly dated now.
The middle section drags a little, I'll admit.
Not every accent is convincing, but it hardly matters.
I could have done without the epilogue.
The love triangle feels a bit forced, to be honest.
The first ten minutes are slow, so be patient with it.
Admittedly, the big coincidence in the third act strains belief.
The film is a little too fond of its own cleverness at times.
Some viewers may find the pace too leisurely.
The comic relief character gets on the nerves after a while.
The title is forgettable, which may explain why so few people have seen it.
The poster does the film no favors whatsoever.
The “twist” is easy to guess, though it hardly matters.
There's one montage too many.
The final scene goes on a beat or two longer than it needs to.
I did check my watch once, around the hour mark.
""")

# ... and faint praise inside negative reviews.
MILD_PRAISE = _bank("""
To be fair, the opening scene is genuinely gripping.
{support} does what little can be done with a thin role.
The cinematography is occasionally lovely, especially the coastal shots.
There's a decent idea buried somewhere in here.
The costumes, at least, are very nice.
One scene, a quiet conversation in a kitchen, hints at a much better film.
The score has one nice theme, even if it's overused.
I'll give it credit for trying something different.
The first twenty minutes had me hooked, I'll admit.
{lead} has a few good moments early on.
The locations are beautiful, I'll grant it that.
Some of the one-liners made me chuckle.
The dog is adorable and gives the best performance in the film.
It's not the worst thing I've seen this year, to be clear.
The production design shows real effort.
The premise is original, which is more than most films can say.
{support} is reliably good, even here.
There's a clever visual joke in the wedding scene.
A few scenes in the middle almost work.
The sound design during the storm is effective.
The child actor is actually quite good.
It looks more expensive than it probably was.
The end-credits song is catchy, to its credit.
I liked the way the film opens, with no music and no titles.
The idea of the radio broadcasts is intriguing on paper.
The last shot is striking, even if nothing leads up to it.
""")

# Quoted dialogue (no final punctuation; the frames supply it).
DIALOGUE_LINES = _bank("""
I never asked to be remembered, only to be forgiven
You can't steer a boat by looking at the wake
Every door in this house opens inward
We were happy once. I have the photographs
Don't thank me yet, the night isn't over
The sea doesn't keep secrets, it just keeps them longer
If you're going to lie, at least lie beautifully
I'm not lost, I'm just early
Some promises are only good in the dark
Nobody gets out of this town, they just get older in it
Tell me the truth, and tell it slowly
You don't get to be sorry after the bridge is burned
The piano was the only thing in this house that never lied
Keep the change, and keep the umbrella
Home is wherever the arguments are
I've buried two husbands and a parrot, and I'm not crying now
Gracias, Señor, but I'll carry my own bags
We'll always have the laundromat
Funny how the clocks stop when you need them most
Love is a long walk in the wrong shoes
Put the kettle on, this could take a while
Nothing ever happens here, and it happens every day
You're the worst thing that ever happened to me, and the best
If the ship sinks, I'm blaming the cat
I don't need a hero. I need a locksmith
Take the money, leave the goat
Memories are just rumors we tell ourselves
Dance like the landlord is watching
""")

POS_DIALOGUE = _bank("""
When {lead} says "{line}," the whole theater went quiet.
The line "{line}" is delivered so perfectly that I wrote it down.
There's a moment where {character} murmurs "{line}," and it's just devastating.
The script is full of gems like "{line}," and none of them feel forced.
I laughed out loud at "{line}," and so did everyone around me.
"{line}" might be my favorite line of dialogue this year.
{support} gets the best line in the film: "{line}."
The way {lead} throws away "{line}" tells you everything about the character.
Even a line as odd as "{line}" somehow works in context.
{character} sums up the whole film with a simple "{line}."
My friend and I have been quoting "{line}" to each other all week.
The final line, "{line}," lands with surprising force.
""")

NEG_DIALOGUE = _bank("""
At one point {lead} actually says "{line}" with a straight face.
The script is full of clunkers like "{line}," and the actors can't save them.
When {character} announced "{line}," someone behind me snorted.
The line "{line}" is meant to be profound; it's just silly.
Lines like "{line}" made me wonder whether anyone read the script aloud.
{support} is stuck delivering gems like "{line}."
I counted three separate times someone says "{line}," as if it were a catchphrase.
The final line, "{line}," landed with a thud.
The trailer's big line, "{line}," sounds even worse in context.
"{line}" is the kind of dialogue that makes you check your phone.
The whole audience groaned at "{line}."
{lead} tries to sell "{line}," but nobody could.
""")

POS_VERDICT = _bank("""
All in all, {title} is one of the most rewarding films I've seen in a long while.
I can't recommend it highly enough.
It's a small gem, and it deserves a much bigger audience.
This is filmmaking with heart, brains, and a wicked sense of humor.
I loved it, plain and simple.
{title} is funny, sad, and wise, often in the same scene.
By the end I was completely won over.
It's the rare film that gets better every time you think about it.
Easily a 9 out of 10 for me.
I walked out of the theater grinning like an idiot.
It's an absolute delight from start to finish.
{title} reminded me why I fell in love with movies in the first place.
This one is going straight onto my list of all-time favorites.
I was moved to tears, and I'm not ashamed to admit it.
It's smart, warm, and beautifully made.
Honestly, I haven't stopped thinking about it since.
Few films manage to be this entertaining and this touching at the same time.
{title} is a quiet triumph.
I'd give it ten stars if I could.
It's the kind of film you want to press into the hands of everyone you know.
A wonderful, generous, deeply human film.
Everything clicks, and the result is magic.
It left me with a warm glow that lasted the whole evening.
This is what a great feel-good movie looks like, no cynicism required.
{title} is a genuine pleasure, made with obvious love.
I'd happily watch it again tomorrow.
It earns every one of its emotional moments, and there are many.
Simply put, it's a triumph of storytelling.
Bravo to everyone involved; this is a beauty.
It's a film that respects its audience, and I respect it right back.
""")

NEG_VERDICT = _bank("""
All in all, {title} is a frustrating waste of a good premise.
I can't recommend it to anyone, not even fans of the genre.
It's a dull, muddled film that never finds its footing.
I was bored out of my mind for most of the running time.
Honestly, I wanted those two hours of my life back.
{title} is a mess, plain and simple.
By the end I had stopped caring about anyone on screen.
It's the rare film that gets worse the more you think about it.
Generously, a 3 out of 10.
I walked out of the theater feeling cheated.
It's a slog from start to finish.
{title} is a reminder that a good trailer doesn't make a good movie.
This one is going straight onto my list of biggest disappointments.
I checked my watch more times than I can count.
It's lazy, predictable, and strangely smug about it.
I've already forgotten most of it, which is probably for the best.
Few films manage to be this loud and this boring at the same time.
{title} is a misfire on nearly every level.
I'd give it zero stars if the site allowed it.
Avoid it, even if it's free.
A tedious, joyless, thoroughly forgettable film.
Nothing clicks, and the result is a slog.
It left me irritated for the rest of the evening.
This is what happens when nobody is willing to say "no" in the editing room.
{title} is a chore, made with obvious indifference.
I will not be watching it again, ever.
It tries to earn its emotional moments and fails every single time.
Simply put, it's a failure of storytelling.
Skip it; there are far better ways to spend an evening.
It's a film that talks down to its audience, and I resented it.
""")

POS_CLOSER = _bank("""
Go see it, and bring someone you love.
Highly recommended.
10/10, would watch again.
Don't let the quiet marketing fool you; seek this one out.
Watch it on the biggest screen you can find.
I'll be buying the Blu-ray the day it comes out.
Trust me on this one.
Bring tissues. You'll need them.
Do yourself a favor and watch it tonight.
My whole family loved it, from the kids to my grandfather.
One of the year's best, hands down.
I can't wait to see what {director} does next.
Give it a chance; you won't regret it.
It's well worth your time.
Absolutely worth tracking down.
This is the movie I'll be recommending all year.
A must-see for anyone who loves good storytelling.
Thank you, {director}, for this lovely film.
Now excuse me while I go watch it again.
Eight and a half out of ten, and I'm being stingy.
See it before someone spoils it for you.
I'm already planning a second viewing with friends.
It deserves every bit of praise it's getting, and more.
It's going straight into my "comfort movies" pile.
Merci, {director}. Encore, s'il vous plaît.
Catch it if it plays anywhere near you.
My highest recommendation.
A joy. Just a joy.
""")

NEG_CLOSER = _bank("""
Save your money.
Skip it.
1/10, and that's being generous.
Don't believe the hype; it isn't worth it.
Wait for it to show up on TV, and then change the channel.
I'll be returning the DVD tomorrow.
Trust me on this one: pass.
Bring a pillow. You'll need it.
Do yourself a favor and watch something else tonight.
My whole family hated it, which is a first.
One of the year's worst, hands down.
I hope {director} does better next time.
Give it a miss; you won't regret it.
It's not worth your time.
Not worth tracking down.
This is the movie I'll be warning people about all year.
Avoid at all costs.
Sorry, {director}, but this one doesn't work.
Now excuse me while I go watch something good.
Two out of ten, and one of those points is for the dog.
Watch the trailer instead; it's shorter and better.
I'm already trying to forget it.
It deserves every bit of criticism it's getting.
Add it to the "never again" pile.
What a waste of a talented cast.
If it plays near you, keep walking.
Not recommended.
A dud. Just a dud.
""")

SHARED_BANKS: dict[str, tuple[str, ...]] = {
    "opening": OPENINGS,
    "plot": PLOT,
    "neutral": NEUTRAL,
}
POLAR_BANKS: dict[bool, dict[str, tuple[str, ...]]] = {
    True: {
        "acting": POS_ACTING,
        "directing": POS_DIRECTING,
        "score": POS_SCORE,
        "cinema": POS_CINEMA,
        "dialogue": POS_DIALOGUE,
        "contrary": MILD_CRITIQUE,
        "verdict": POS_VERDICT,
        "closer": POS_CLOSER,
    },
    False: {
        "acting": NEG_ACTING,
        "directing": NEG_DIRECTING,
        "score": NEG_SCORE,
        "cinema": NEG_CINEMA,
        "dialogue": NEG_DIALOGUE,
        "contrary": MILD_PRAISE,
        "verdict": NEG_VERDICT,
        "closer": NEG_CLOSER,
    },
}


def count_words(text: str) -> int:
    """Count whitespace-separated words, treating ``<br />`` as a separator."""
    return len(text.replace("<br />", " ").split())


class _Pools:
    """Draw sentences from banks without repeating one within a review."""

    def __init__(self, rng: random.Random, banks: dict[str, tuple[str, ...]]) -> None:
        self._rng = rng
        self._banks = banks
        self._left: dict[str, list[str]] = {}

    def draw(self, key: str) -> str | None:
        if key not in self._left:
            items = list(self._banks[key])
            self._rng.shuffle(items)
            self._left[key] = items
        left = self._left[key]
        return left.pop() if left else None


class ReviewComposer:
    """Compose reviews of a given polarity and length class."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def compose(self, positive: bool, kind: str) -> str:
        low, high = LENGTH_RANGES[kind]
        while True:
            text = self._attempt(positive, kind)
            if low <= count_words(text) <= high:
                return text

    def _attempt(self, positive: bool, kind: str) -> str:
        rng = self.rng
        pools = _Pools(rng, {**SHARED_BANKS, **POLAR_BANKS[positive]})
        lead, support, director, composer, dp = rng.sample(NAMES, 5)
        context = {
            "title": rng.choice(TITLES),
            "lead": lead,
            "support": support,
            "director": director,
            "composer": composer,
            "dp": dp,
            "character": rng.choice(CHARACTERS),
            "line": rng.choice(DIALOGUE_LINES),
        }

        def take(key: str) -> str:
            sentence = pools.draw(key)
            if sentence is None:  # the banks are far larger than any review
                raise RuntimeError(f"phrase bank {key!r} exhausted")
            return sentence

        if kind == "short":
            parts = [take("opening"), take("verdict")] if rng.random() < 0.5 else [take("verdict"), take("closer")]
        else:
            parts = [take("opening"), take("plot")]
            body: list[str] = []
            target = rng.randint(*BODY_TARGETS[kind])
            topic = rng.choice(TOPICS)
            while count_words(" ".join(parts + body)) < target:
                roll = rng.random()
                if roll < 0.17:
                    key = "neutral"
                elif roll < 0.25:
                    key = "contrary"
                elif roll < 0.31:
                    key = "plot"
                else:
                    if rng.random() < 0.45:
                        topic = rng.choice(TOPICS)
                    key = topic
                sentence = pools.draw(key)
                if sentence is not None:
                    body.append(sentence)
            if rng.random() < 0.3:  # about 30% quote a line of dialogue
                body.insert(rng.randint(0, len(body)), take("dialogue"))
            parts += body + [take("verdict")]
            if rng.random() < 0.75:
                parts.append(take("closer"))

        sentences = self._fill(parts, context)
        text = self._join(sentences, use_br=kind != "short" and rng.random() < BR_SHARE)
        if rng.random() < CURLY_APOSTROPHE_SHARE:
            text = text.replace("'", "\u2019")
        return text

    @staticmethod
    def _fill(templates: list[str], context: dict[str, str]) -> list[str]:
        """Fill placeholders; after a first mention use surnames and "the film"."""
        context = dict(context)
        sentences = []
        for template in templates:
            sentence = template.format_map(context)
            sentences.append(sentence[0].upper() + sentence[1:])
            if "{title}" in template:
                context["title"] = "the film"
            for key in NAME_KEYS:
                if "{" + key + "}" in template:
                    context[key] = context[key].split()[-1]
        return sentences

    def _join(self, sentences: list[str], use_br: bool) -> str:
        if not use_br or len(sentences) < 2:
            return " ".join(sentences)
        gaps = list(range(1, len(sentences)))
        n_breaks = min(len(gaps), 1 + len(sentences) // 6)
        breaks = set(self.rng.sample(gaps, n_breaks))
        pieces = [sentences[0]]
        for index in range(1, len(sentences)):
            pieces.append("<br /><br />" if index in breaks else " ")
            pieces.append(sentences[index])
        return "".join(pieces)


def build_rows(rng: random.Random) -> list[tuple[str, str]]:
    """Return shuffled (review, sentiment) rows, including the duplicates."""
    composer = ReviewComposer(rng)
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for label, n_dup in DUPLICATES.items():
        n_unique = N_PER_CLASS - n_dup
        n_normal = n_unique - N_SHORT_PER_CLASS - N_LONG_PER_CLASS
        kinds = (
            ["short"] * N_SHORT_PER_CLASS
            + ["long"] * N_LONG_PER_CLASS
            + ["normal"] * n_normal
        )
        rng.shuffle(kinds)
        normal_texts: list[str] = []
        for kind in kinds:
            text = composer.compose(label == "positive", kind)
            while text in seen:
                text = composer.compose(label == "positive", kind)
            seen.add(text)
            rows.append((text, label))
            if kind == "normal":
                normal_texts.append(text)
        rows.extend((text, label) for text in rng.sample(normal_texts, n_dup))
    rng.shuffle(rows)
    return rows


def write_csv(rows: list[tuple[str, str]], path: Path) -> None:
    """Write rows as UTF-8 CSV (no BOM, LF line endings, minimal quoting)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["review", "sentiment"])
        writer.writerows(rows)


def main() -> None:
    rows = build_rows(random.Random(SEED))
    labels = Counter(label for _, label in rows)
    n_dup_texts = sum(1 for n in Counter(text for text, _ in rows).values() if n > 1)
    assert len(rows) == 2 * N_PER_CLASS, len(rows)
    assert labels == {"positive": N_PER_CLASS, "negative": N_PER_CLASS}, labels
    assert n_dup_texts == sum(DUPLICATES.values()), n_dup_texts
    write_csv(rows, OUT_PATH)
    print(f"wrote {len(rows)} rows ({dict(labels)}) to {OUT_PATH}")


if __name__ == "__main__":
    main()
