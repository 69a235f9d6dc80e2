"""The English normaliser's word tables: abbreviations, place names, units, currencies, months.

Data only (core/text/normalize.py holds the rules that use it).  An abbreviation is expanded only
in the context its entry names, so a word the tables do not know is never touched.
"""

from __future__ import annotations

# before a capitalised name: "Dr. Watson", "Mrs. Hudson" (the period is optional: "Mr Darcy")
TITLES = {"dr": "Doctor", "mr": "Mister", "mrs": "Missus", "ms": "Miz", "prof": "Professor", "rev": "Reverend",
          "gen": "General", "capt": "Captain", "lt": "Lieutenant", "col": "Colonel", "sgt": "Sergeant",
          "gov": "Governor", "sen": "Senator", "rep": "Representative", "hon": "Honorable", "fr": "Father",
          "supt": "Superintendent", "cpl": "Corporal", "adm": "Admiral", "maj": "Major", "messrs": "Messieurs",
          "mt": "Mount", "ft": "Fort", "pres": "President", "insp": "Inspector", "st": "Saint"}
# after a name or a number: "Baker St.", "Elm Dr.", "John Smith Jr."
SUFFIXES = {"st": "Street", "dr": "Drive", "ave": "Avenue", "rd": "Road", "blvd": "Boulevard", "ln": "Lane",
            "sq": "Square", "jr": "Junior", "sr": "Senior", "bros": "Brothers", "inc": "Incorporated",
            "ltd": "Limited", "corp": "Corporation", "co": "Company", "esq": "Esquire", "pl": "Place",
            "hwy": "Highway", "mt": "Mount"}
# anywhere, with their period: "etc." "e.g." "vs."
ANYWHERE = {"etc": "et cetera", "e.g": "for example", "i.e": "that is", "vs": "versus", "approx": "approximately",
            "dept": "department", "est": "established", "govt": "government", "misc": "miscellaneous",
            "a.m": "AM", "p.m": "PM", "a.d": "A D", "b.c": "B C", "viz": "namely", "cf": "compare",
            "u.s": "U S", "u.k": "U K", "ibid": "ibidem", "et al": "et al", "ca": "circa", "mph": "miles per hour"}
# AP-style US state abbreviations, read after "<Place>, "
STATES = {"ala": "Alabama", "ariz": "Arizona", "ark": "Arkansas", "calif": "California", "colo": "Colorado",
          "conn": "Connecticut", "del": "Delaware", "fla": "Florida", "ga": "Georgia", "ill": "Illinois",
          "ind": "Indiana", "kan": "Kansas", "kans": "Kansas", "ky": "Kentucky", "la": "Louisiana",
          "md": "Maryland", "mass": "Massachusetts", "mich": "Michigan", "minn": "Minnesota",
          "miss": "Mississippi", "mo": "Missouri", "mont": "Montana", "neb": "Nebraska", "nev": "Nevada",
          "n.h": "New Hampshire", "n.j": "New Jersey", "n.m": "New Mexico", "n.y": "New York",
          "n.c": "North Carolina", "n.d": "North Dakota", "okla": "Oklahoma", "ore": "Oregon",
          "pa": "Pennsylvania", "r.i": "Rhode Island", "s.c": "South Carolina", "s.d": "South Dakota",
          "tenn": "Tennessee", "tex": "Texas", "va": "Virginia", "vt": "Vermont", "wash": "Washington",
          "w.va": "West Virginia", "wis": "Wisconsin", "wyo": "Wyoming", "d.c": "D C"}
# before a number (the number reading follows): "vol. II", "pp. 45-47", "No. 5", "ch. 3"
BEFORE_NUMBER = {"vol": "volume", "vols": "volumes", "p": "page", "pp": "pages", "no": "number", "nos": "numbers",
                 "ch": "chapter", "chap": "chapter", "fig": "figure", "figs": "figures", "sec": "section",
                 "art": "article", "para": "paragraph", "ed": "edition", "pt": "part", "bk": "book",
                 "ex": "example", "eq": "equation", "op": "opus", "ps": "psalm", "rm": "room", "apt": "apartment",
                 "tel": "telephone", "#": "number"}
# words after which a number, Roman or Arabic, is a cardinal label: "Chapter IV" -> "Chapter Four"
LABELS = {"chapter", "chapters", "part", "parts", "book", "books", "volume", "volumes", "act", "scene", "section",
          "sections", "appendix", "canto", "psalm", "war", "phase", "stage", "round", "level", "article", "title",
          "figure", "plate", "table", "page", "pages", "number", "numbers", "edition", "opus", "room", "step",
          "class", "type", "grade", "series", "episode", "season", "lesson", "unit", "item", "verse", "line",
          "lines", "paragraph", "example", "equation", "apartment", "telephone"}
# given names that take a regnal number: "Henry VIII" -> "Henry the Eighth" (any capitalised word
# takes a numeral of two or more letters; these also take "I")
REGNAL = {"Henry", "Elizabeth", "George", "Louis", "Charles", "Edward", "William", "James", "Richard", "John",
          "Mary", "Anne", "Victoria", "Napoleon", "Peter", "Catherine", "Frederick", "Philip", "Ferdinand",
          "Alexander", "Nicholas", "Pius", "Leo", "Gregory", "Benedict", "Innocent", "Clement", "Boniface",
          "Urban", "Paul", "Ivan", "Gustav", "Gustavus", "Christian", "Olaf", "Harald", "Alfonso", "Juan",
          "Carlos", "Pedro", "Manuel", "Ludwig", "Otto", "Rudolf", "Wilhelm", "Franz", "Joseph", "Leopold",
          "Constantine", "Justinian", "Ramesses", "Ramses", "Thutmose", "Amenhotep", "Malcolm", "David",
          "Robert", "Umberto", "Victor", "Emmanuel", "Henri", "Francis", "Stephen", "Harold", "Edmund",
          "Ethelred", "Edgar", "Sancho", "Selim", "Mehmed", "Suleiman", "Darius", "Xerxes", "Cyrus",
          "Ptolemy", "Antiochus", "Herod", "Sixtus", "Julius", "Adrian", "Hadrian", "Celestine", "Matilda"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
MONTH_ABBREVIATIONS = {"jan": "January", "feb": "February", "mar": "March", "apr": "April", "jun": "June",
                       "jul": "July", "aug": "August", "sep": "September", "sept": "September", "oct": "October",
                       "nov": "November", "dec": "December"}
# symbol -> (unit, plural, hundredth, its plural); the amount's words come first: "$12.50"
CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
              "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen"),
              "₹": ("rupee", "rupees", "paisa", "paise")}
# after a number: "5 km" -> "five kilometers" (singular for one)
UNITS = {"km": ("kilometer", "kilometers"), "kg": ("kilogram", "kilograms"), "cm": ("centimeter", "centimeters"),
         "mm": ("millimeter", "millimeters"), "mg": ("milligram", "milligrams"), "ml": ("milliliter", "milliliters"),
         "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
         "kph": ("kilometer per hour", "kilometers per hour"), "lb": ("pound", "pounds"),
         "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ft": ("foot", "feet"), "mi": ("mile", "miles"),
         "yd": ("yard", "yards"), "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"),
         "mhz": ("megahertz", "megahertz"), "ghz": ("gigahertz", "gigahertz"), "kb": ("kilobyte", "kilobytes"),
         "mb": ("megabyte", "megabytes"), "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"),
         "kw": ("kilowatt", "kilowatts"), "kwh": ("kilowatt hour", "kilowatt hours"), "hrs": ("hour", "hours"),
         "hr": ("hour", "hours"), "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
         "sec": ("second", "seconds"), "secs": ("second", "seconds")}
SCALE_WORDS = {"thousand", "million", "billion", "trillion"}
SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "§": " section ", "¶": " paragraph ", "×": " times ",
           "÷": " divided by ", "©": " copyright ", "®": "", "™": "", "½": " one half", "¼": " one quarter",
           "¾": " three quarters", "⅓": " one third", "⅔": " two thirds", "°": " degrees", "~": " about ",
           "†": "", "‡": "", "•": ", ", "%": " percent", "@": " at "}
FRACTIONS = {(1, 2): "one half", (1, 4): "one quarter", (3, 4): "three quarters", (1, 3): "one third",
             (2, 3): "two thirds"}
