// Lexicons and phrase banks for the synthetic population. Every phrase is written so that any template slot
// combination is grammatical English.

export interface Aspect {
  /** noun phrase used after "the" ("the pacing") */
  noun: string;
  /** singular/plural agreement for "is"/"are", "was"/"were" */
  plural: boolean;
  /** verb phrases (past tense, subject = the aspect) for clearly positive and clearly negative judgements */
  good: string[];
  bad: string[];
}

export interface CategoryLexicon {
  name: string;
  /** object word: "book", "film", "album" */
  thing: string;
  /** creator word: "author", "director", "band" */
  maker: string;
  /** how one consumes it: past tense, gerund, and "finished it" phrase */
  consumed: string;
  consuming: string;
  finished: string;
  genres: string[];
  aspects: Aspect[];
  titleAdjectives: string[];
  titleNouns: string[];
  places: string[];
  /** description building blocks */
  premises: string[];
  features: string[];
  praise: string[];
}

export const FIRST_NAMES = [
  "Mara",
  "Elliot",
  "Nadia",
  "Jonah",
  "Ines",
  "Tobias",
  "Clara",
  "Rafael",
  "Vera",
  "Samir",
  "Lena",
  "Owen",
  "Priya",
  "Declan",
  "Hana",
  "Felix",
  "Rosa",
  "Arjun",
  "Greta",
  "Malik",
  "Isla",
  "Bruno",
  "Yara",
  "Caleb",
];
export const LAST_NAMES = [
  "Holloway",
  "Brandt",
  "Okafor",
  "Lindqvist",
  "Marchetti",
  "Castellanos",
  "Whitaker",
  "Nakamura",
  "Ferreira",
  "Abernathy",
  "Kowalski",
  "Delacroix",
  "Sørensen",
  "Haddad",
  "Quinlan",
  "Ashby",
  "Moreau",
  "Vance",
];

export const CATEGORIES: Record<string, CategoryLexicon> = {
  Books: {
    name: "Books",
    thing: "book",
    maker: "author",
    consumed: "read",
    consuming: "reading",
    finished: "I turned the last page",
    genres: [
      "mystery",
      "historical fiction",
      "science fiction",
      "fantasy",
      "literary fiction",
      "memoir",
      "thriller",
      "romance",
    ],
    aspects: [
      {
        noun: "plot",
        plural: false,
        good: [
          "kept me guessing until the final chapter",
          "unfolded with real confidence",
          "tied its threads together beautifully",
        ],
        bad: [
          "felt predictable from the first few chapters",
          "wandered off into side stories that went nowhere",
          "relied on one coincidence too many",
        ],
      },
      {
        noun: "characters",
        plural: true,
        good: [
          "felt like people I could have known",
          "grew in ways that surprised me",
          "carried the story with warmth and wit",
        ],
        bad: [
          "never became more than sketches",
          "made choices that made no sense",
          "all sounded exactly alike",
        ],
      },
      {
        noun: "prose",
        plural: false,
        good: [
          "was clean and quietly lyrical",
          "had a rhythm that pulled me along",
          "managed to be vivid without showing off",
        ],
        bad: [
          "was clumsy and overwritten",
          "leaned on the same tired phrases",
          "got in the way of the story",
        ],
      },
      {
        noun: "pacing",
        plural: false,
        good: [
          "never let the tension drop",
          "balanced quiet moments with bursts of action",
          "made it hard to put down",
        ],
        bad: [
          "dragged badly through the middle",
          "rushed through the moments that mattered",
          "stalled whenever the plot needed momentum",
        ],
      },
      {
        noun: "world-building",
        plural: false,
        good: [
          "made the setting feel lived in",
          "added detail without burying the story",
          "gave every place its own texture",
        ],
        bad: [
          "was thin and hard to picture",
          "buried the story under exposition",
          "contradicted itself more than once",
        ],
      },
      {
        noun: "ending",
        plural: false,
        good: ["landed with real emotional weight", "was earned and satisfying", "stayed with me for days"],
        bad: [
          "felt abrupt and unearned",
          "left too many questions hanging",
          "undid much of what came before",
        ],
      },
    ],
    titleAdjectives: [
      "Silent",
      "Last",
      "Hidden",
      "Broken",
      "Golden",
      "Winter",
      "Distant",
      "Forgotten",
      "Burning",
      "Quiet",
      "Lost",
      "Crimson",
    ],
    titleNouns: [
      "Garden",
      "Orchard",
      "Lighthouse",
      "River",
      "Letters",
      "Archive",
      "Harbor",
      "Season",
      "Promise",
      "Map",
      "Bridge",
      "Kingdom",
    ],
    places: [
      "Marrow Bay",
      "the northern valleys",
      "Lisbon",
      "a drowned city",
      "the old quarter",
      "Halden",
      "the frontier",
    ],
    premises: [
      "When a retired archivist discovers a letter that should not exist, she is pulled into a mystery that spans three generations.",
      "Two estranged siblings return to their family home and uncover the secret their parents kept for forty years.",
      "In a city where memories can be traded, a young courier is hired to deliver one that could topple the council.",
      "A detective with nothing left to lose takes the one case everyone else has refused.",
      "Set against the collapse of an old empire, this novel follows a cartographer who is asked to draw a border that will divide her own village.",
      "A grieving scientist accepts a posting at a remote research station and finds that the silence there hides something alive.",
    ],
    features: [
      "This edition includes a new afterword by the author and a reading group guide.",
      "The first book in a planned trilogy, it can also be read as a standalone novel.",
      "Told in alternating chapters, the story moves between the present day and the summer everything changed.",
      "The author draws on years of research, and the historical detail is woven carefully into the narrative.",
      "It runs to a little over four hundred pages and includes a map of the setting.",
    ],
    praise: [
      "Critics have called it a patient, generous novel with an ending that lingers.",
      "Readers who enjoy character-driven stories with a strong sense of place will find much to love here.",
      "It was shortlisted for several awards in the year of its release.",
    ],
  },
  Movies_and_TV: {
    name: "Movies_and_TV",
    thing: "film",
    maker: "director",
    consumed: "watched",
    consuming: "watching",
    finished: "the credits rolled",
    genres: ["drama", "comedy", "suspense", "adventure", "science fiction", "animation", "crime", "romance"],
    aspects: [
      {
        noun: "story",
        plural: false,
        good: ["held together from start to finish", "took risks that paid off", "was surprisingly moving"],
        bad: [
          "fell apart in the second half",
          "was stitched together from better films",
          "never found a reason to exist",
        ],
      },
      {
        noun: "acting",
        plural: false,
        good: [
          "was excellent across the whole cast",
          "felt natural and unforced",
          "carried even the weaker scenes",
        ],
        bad: [
          "was stiff and unconvincing",
          "swung between wooden and hammy",
          "undercut every emotional beat",
        ],
      },
      {
        noun: "cinematography",
        plural: false,
        good: [
          "was gorgeous in every frame",
          "used light and color with real intent",
          "made the landscapes part of the story",
        ],
        bad: [
          "was flat and murky",
          "looked like a cheap television special",
          "relied on shaky camera work that gave me a headache",
        ],
      },
      {
        noun: "soundtrack",
        plural: false,
        good: [
          "lifted every important scene",
          "was memorable without being intrusive",
          "stayed in my head for days",
        ],
        bad: ["was loud and generic", "told me what to feel at every turn", "drowned out the dialogue"],
      },
      {
        noun: "pacing",
        plural: false,
        good: [
          "moved briskly without feeling rushed",
          "gave the big moments room to breathe",
          "kept me on the edge of my seat",
        ],
        bad: ["dragged through a bloated middle act", "rushed the ending", "made two hours feel like four"],
      },
      {
        noun: "special effects",
        plural: true,
        good: [
          "looked convincing and served the story",
          "were used sparingly and well",
          "still hold up remarkably well",
        ],
        bad: [
          "looked dated and cheap",
          "were distracting rather than impressive",
          "could not hide the thin script",
        ],
      },
    ],
    titleAdjectives: [
      "Dark",
      "Endless",
      "Electric",
      "Savage",
      "Midnight",
      "Northern",
      "Hollow",
      "Bright",
      "Wild",
      "Final",
      "Iron",
      "Shattered",
    ],
    titleNouns: [
      "Horizon",
      "Signal",
      "Frontier",
      "Run",
      "Summer",
      "Station",
      "Witness",
      "Road",
      "Tide",
      "Circuit",
      "Heist",
      "Crossing",
    ],
    places: [
      "Los Angeles",
      "a mining town",
      "the Scottish coast",
      "a space station",
      "1970s Rome",
      "the desert",
    ],
    premises: [
      "A disgraced pilot gets one last chance to fly when a routine cargo run turns into a rescue mission.",
      "Three friends reunite for a wedding and spend one long night confronting what went wrong between them.",
      "A small-town sheriff investigates a disappearance that the whole town seems determined to forget.",
      "This documentary follows a group of volunteers racing to save a wetland from development.",
      "An aging magician plans one final performance, and his estranged daughter is the only one who knows the trick.",
      "When the power fails across an entire city, a night-shift nurse must keep her ward alive until morning.",
    ],
    features: [
      "The release includes the theatrical cut, deleted scenes, and a commentary track with the director.",
      "Presented in widescreen with English subtitles and a 5.1 surround mix.",
      "The set contains the complete first season across three discs.",
      "Special features include a behind-the-scenes documentary and an interview with the composer.",
    ],
    praise: [
      "It premiered to strong reviews at several festivals.",
      "Fans of slow-burning character dramas will appreciate its patience.",
      "The lead performance earned widespread praise.",
    ],
  },
  CDs_and_Vinyl: {
    name: "CDs_and_Vinyl",
    thing: "album",
    maker: "band",
    consumed: "listened to",
    consuming: "listening to",
    finished: "the last track faded out",
    genres: ["indie rock", "jazz", "folk", "soul", "electronic music", "classical music", "blues", "hip hop"],
    aspects: [
      {
        noun: "vocals",
        plural: true,
        good: [
          "were warm and full of character",
          "carried real emotion without oversinging",
          "sat perfectly in the mix",
        ],
        bad: ["were thin and strained", "were buried under the instruments", "sounded processed to death"],
      },
      {
        noun: "production",
        plural: false,
        good: ["was crisp and spacious", "gave every instrument room", "sounded rich on good speakers"],
        bad: ["was muddy and compressed", "sounded like a rushed demo", "flattened every dynamic moment"],
      },
      {
        noun: "lyrics",
        plural: true,
        good: [
          "were sharp, funny and sometimes heartbreaking",
          "rewarded close listening",
          "told small stories with big feelings",
        ],
        bad: ["were clumsy and full of clichés", "said nothing in a lot of words", "undercut the music"],
      },
      {
        noun: "melodies",
        plural: true,
        good: [
          "were instantly memorable",
          "kept surprising me on repeat listens",
          "had hooks I am still humming",
        ],
        bad: [
          "blurred together into one long song",
          "went nowhere",
          "were forgettable the moment they ended",
        ],
      },
      {
        noun: "musicianship",
        plural: false,
        good: [
          "was tight and inventive",
          "showed a band at the top of its game",
          "made even the simple songs shine",
        ],
        bad: [
          "was sloppy in places",
          "felt like session players going through the motions",
          "never rose above competent",
        ],
      },
      {
        noun: "album flow",
        plural: false,
        good: [
          "made it a joy to hear from start to finish",
          "built carefully to a big finish",
          "felt deliberate and well sequenced",
        ],
        bad: ["was choppy and uneven", "put all the good songs up front", "sagged badly in the second half"],
      },
    ],
    titleAdjectives: [
      "Blue",
      "Neon",
      "Paper",
      "Velvet",
      "Analog",
      "Golden",
      "Restless",
      "Slow",
      "Static",
      "Electric",
      "Glass",
      "Open",
    ],
    titleNouns: [
      "Hours",
      "Waves",
      "Hearts",
      "Lights",
      "Rooms",
      "Songs",
      "Roads",
      "Skies",
      "Dreams",
      "Machines",
      "Echoes",
      "Rivers",
    ],
    places: [
      "Nashville",
      "a converted church",
      "Berlin",
      "a cabin in the woods",
      "Memphis",
      "a seaside studio",
    ],
    premises: [
      "Recorded live to tape over two weeks, this album captures the band at its loosest and most adventurous.",
      "The long-awaited follow-up to a celebrated debut, it trades polish for something rawer and more personal.",
      "This remastered edition restores the original running order and adds previously unreleased demos.",
      "A collection of songs written on the road during a year of constant touring.",
      "Pairing a string quartet with a drum machine, the record blends chamber music with club rhythms.",
    ],
    features: [
      "Pressed on 180-gram vinyl with a gatefold sleeve and a lyric insert.",
      "The CD edition includes three bonus tracks and extended liner notes.",
      "Twelve tracks, running just under fifty minutes.",
      "Includes a download code for the high-resolution digital version.",
    ],
    praise: [
      "It topped several critics' lists in the year of its release.",
      "Longtime fans and newcomers alike will find something to love here.",
      "The lead single became a staple of independent radio.",
    ],
  },
};

export type Register = "plain" | "enthusiastic" | "academic" | "casual";
export const REGISTERS: readonly Register[] = ["plain", "enthusiastic", "academic", "casual"];

/** adjectives for an overall judgement by register and polarity */
export const OVERALL_ADJ: Record<Register, { pos: string[]; mixed: string[]; neg: string[] }> = {
  plain: {
    pos: ["good", "really good", "solid", "well made", "worthwhile"],
    mixed: ["uneven", "decent", "fine in parts", "okay"],
    neg: ["weak", "disappointing", "dull", "poorly made"],
  },
  enthusiastic: {
    pos: ["amazing", "absolutely wonderful", "stunning", "incredible", "a total delight"],
    mixed: ["a bit of a mixed bag", "frustrating but fun", "hit and miss"],
    neg: ["awful", "a complete letdown", "terrible", "painful"],
  },
  academic: {
    pos: ["accomplished", "thoughtful", "compelling", "carefully constructed", "genuinely rewarding"],
    mixed: ["ambitious but uneven", "intermittently compelling", "flawed yet interesting"],
    neg: ["derivative", "unconvincing", "muddled", "strangely inert"],
  },
  casual: {
    pos: ["pretty great", "super fun", "really cool", "a blast"],
    mixed: ["kind of all over the place", "alright I guess", "fun in spots"],
    neg: ["pretty bad", "kind of a mess", "a snooze", "not great"],
  },
};

export const INTENSIFIERS: Record<Register, string[]> = {
  plain: ["really", "quite", "very"],
  enthusiastic: ["absolutely", "totally", "seriously", "incredibly"],
  academic: ["remarkably", "notably", "consistently", "surprisingly"],
  casual: ["pretty", "super", "kinda", "honestly"],
};

export const REASONS = [
  "a friend recommended it",
  "seeing it on a list of favorites",
  "reading a few glowing reviews",
  "enjoying the last one so much",
  "a long week at work",
  "finding it on sale",
  "hearing about it on a podcast",
];

export const SIGNATURES = [
  "Just my two cents.",
  "Bottom line: trust your own taste.",
  "Take that for what it is worth.",
  "As always, your mileage may vary.",
  "That is my honest take.",
  "Enough said.",
  "Happy to answer questions in the comments.",
  "Hope this helps someone decide.",
  "Thanks for reading this far.",
  "Now back to my to-do list.",
  "Rating it as fairly as I can.",
  "Make of that what you will.",
];

export const OPENER_PREFIXES = [
  "Honestly,",
  "Well,",
  "Okay, so",
  "First things first:",
  "In short,",
  "To be fair,",
];
