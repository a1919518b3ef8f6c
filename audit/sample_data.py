"""Static tables for the sample generator: name pools, companies, mail subjects and the planted cases.

Kept apart from `audit/sample.py` so the generator reads as logic and this file reads as a data sheet.
Every planted account is declared here once; the generator derives accounts.csv rows, Mailgun events
and expected.json from the same declaration, so the ground truth cannot disagree with the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------------
# Pools for background accounts and non-customer recipients, one line per naming tradition:
# "weight | first names | last names". Names are mostly paired within a line (with some mixing, as in
# real customer bases). Mostly ASCII, a few accented so loaders and matchers meet real UTF-8; emails are
# ASCII-folded from them. A hyphen in a last name stands for a space ("de-Vries" is "de Vries").
_POOLS = """
30 | James Mary Robert Patricia Michael Jennifer William Linda David Elizabeth Richard Barbara Joseph Susan
     Thomas Jessica Charles Sarah Christopher Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Margaret
     Donald Sandra Steven Ashley Paul Kimberly Andrew Emily Joshua Donna Kenneth Michelle Kevin Carol
     Brian Amanda George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Laura Jeffrey
     Sharon Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Shirley Eric Angela Jonathan Helen Stephen Anna
     Larry Brenda Justin Pamela Scott Nicole Brandon Samantha Benjamin Katherine Samuel Emma Gregory Ruth
   | Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Jackson Martin Thompson
     White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson
     Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Rogers
     Reed Cook Morgan Bell Bailey Cooper Richardson Cox Howard Ward Peterson Gray Watson Kelly Sanders
     Bennett Wood Barnes Ross Henderson Coleman Jenkins Perry Powell Long Patterson Hughes Butler Simmons
     Foster Bryant Russell Griffin Hayes Myers Ford Hamilton Graham Wallace Woods Cole West Jordan Owens
     Reynolds Fisher Ellis Harrison Gibson Marshall
 6 | Niamh Eoin Aoife Ciarán Siobhán Declan Orla Cormac Róisín Padraig Sinead Fergus Isla Alasdair Morag
   | Murphy O'Brien Byrne Kavanagh Fitzgerald Sullivan McDonald MacLeod Gallagher Doherty Quinn Brennan
     Donnelly McLaughlin Campbell Fraser
12 | Alejandro Lucía Mateo Valentina Santiago Camila Diego Sofía Javier Isabel Carlos Gabriela Andrés Paula
     Joaquín Fernanda Raúl Ximena Felipe Renata Emilio Catalina Marisol Esteban Pilar Ignacio
   | Hernández López González Pérez Sánchez Ramírez Torres Rivera Gómez Díaz Morales Ortiz Gutiérrez
     Chávez Ramos Ruiz Mendoza Castillo Vargas Romero Herrera Medina Aguilar Navarro Núñez Cárdenas
     Valdivia Quispe Mamani Flores Salazar
 6 | João Beatriz Rafael Larissa Thiago Mariana Gustavo Leonor Rui Inês Bruno Camila Luana Vinícius
   | Silva Santos Oliveira Souza Pereira Carvalho Almeida Ferreira Ribeiro Barbosa Ferraz Teixeira
     Cavalcanti Moura Pinto Azevedo
12 | Aarav Priyanka Vikram Ananya Rohan Kavya Arjun Deepika Sanjay Meera Rahul Sneha Amit Pooja Nikhil
     Divya Karthik Lakshmi Harsha Anjali Suresh Nandini Varun Shreya Manish Ishita
   | Sharma Verma Gupta Reddy Pillai Chatterjee Banerjee Mukherjee Desai Shah Mehta Kulkarni Singh Bhatt
     Agarwal Nair Krishnan Subramanian Das Ghosh Trivedi Chopra
 8 | Hao Xiu Jian Ling Yan Bo Fang Lei Xin Jing Ming Tao Yun Qiang
   | Wang Zhang Liu Yang Huang Zhao Wu Zhou Xu Sun Zhu Guo Lin Luo Gao Zheng Tang Feng
 5 | Hiroshi Yuki Takeshi Kenji Aiko Haruto Yui Sota Rin Daiki Emi Naoki
   | Suzuki Takahashi Watanabe Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki Matsumoto Inoue
 4 | Minjun Seoyeon Jiho Hyejin Dohyun Jiwoo Sungmin Eunji Taeyang Yerin
   | Kim Park Choi Jung Kang Cho Yoon Jang Han Shin Seo Kwon
 3 | Minh Thao Quang Linh Huong Tuan Lan Duc
   | Nguyễn Tran Pham Hoang Vu Dang Bui Đỗ Ngo
 8 | Chinedu Amara Oluwaseun Ngozi Kwabena Abena Babajide Chiamaka Adaeze Ayodele Emeka Yetunde Kojo
     Efua Tunde Folake Obinna Ama
   | Okafor Mensah Okonkwo Nwosu Boateng Abiodun Osei Asante Adeleke Okoye Ogunleye Owusu Appiah Balogun
     Oyelowo Danso
 5 | Tendai Nomvula Thabo Zanele Jelani Wanjiru Sipho Achieng Baraka Lindiwe Mandla Njeri
   | Mwangi Otieno Kamau Dlamini Nkosi Ndlovu Mutua Banda Phiri Moyo Mokoena Ochieng Kariuki
 6 | Omar Layla Youssef Fatima Karim Tariq Yasmin Rania Khalid Salma Hassan Mona Ziad Amira
   | Khoury Mansour Nasser Saleh Farouk Aziz Hamdan Haddad Ibrahim Suleiman Barakat Darwish
 4 | Emre Elif Mehmet Zeynep Burak Selin Can Ayşe Kerem Deniz
   | Yilmaz Demir Çelik Şahin Öztürk Aydın Arslan Doğan Koç Kurt
 3 | Dariush Shirin Reza Leila Arash Nasrin Kian Mahsa
   | Ahmadi Hosseini Karimi Rahimi Moradi Jafari Kazemi Sadeghi
 9 | Dmitri Olga Sergei Natalia Pavel Katarzyna Tomasz Agnieszka Marek Zuzana Ondřej Milena Bogdan Irina
     Vlad Ivana Jakub Magdalena Andrei Elena Mihai Ioana Nikola Jelena
   | Ivanov Petrov Smirnov Kuznetsov Popov Sokolov Kowalski Wiśniewski Wójcik Kowalczyk Dvořák Horváth
     Popescu Ionescu Marković Jovanović Horvat Lewandowski Nowicki Procházka Kovalenko Shevchenko
     Dumitru Stoica Petrović
 7 | Lars Sven Astrid Søren Freja Jonas Ingrid Anders Maja Selma Henrik Sigrid Mikko Aino Oskar Linnea
   | Johansson Andersson Nyström Hansen Larsen Nielsen Berg Haugen Virtanen Korhonen Halvorsen Lindahl
     Aalto Eriksson Pedersen Dahl Lund Mäkinen
 9 | Lukas Lena Matthias Anke Pieter Femke Bram Sanne Otto Greta Jannik Mareike Daan Lotte Florian Ilka
   | Müller Schmidt Schneider Fischer Weber Becker Hoffmann Schulz Koch Richter Wagner Neumann de-Vries
     van-Dijk Bakker Janssen Visser Smit Meijer Vogt Brandt Kramer
 7 | Étienne Chloé Mathieu Amélie Hélène Julien Noémie Benoît Camille Théo Manon Lucas Élodie Antoine
   | Dubois Lefèvre Moreau Laurent Girard Rousseau Bonnet Mercier Lambert Faure Garnier Chevalier Roux
 6 | Giulia Marco Francesca Luca Chiara Alessandro Matteo Sara Davide Elisa Lorenzo Martina
   | Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
 2 | Keanu Aroha Tane Malia Kai Moana Sione Leilani
   | Kealoha Ngata Tuilagi Fonoti Kahale Tupou
"""
POOLS: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (int(weight), tuple(firsts.split()), tuple(n.replace("-", " ") for n in lasts.split()))
    for weight, firsts, lasts in re.findall(r"(\d+) \|([^|]+)\|([^|]+?)(?=\s\d+ \||$)", _POOLS.strip())
)
FIRST_NAMES = tuple(sorted({n for _, firsts, _ in POOLS for n in firsts}))
LAST_NAMES = tuple(sorted({n for _, _, lasts in POOLS for n in lasts}))

# (weight, domain) of personal mailboxes; about a third of all accounts use one.
FREE_MAIL = (
    (40, "gmail.com"),
    (20, "outlook.com"),
    (15, "yahoo.com"),
    (10, "hotmail.com"),
    (15, "icloud.com"),
)

# One company a line: weight, local-part convention, mail domain, name as typed in the portal. Some names
# carry commas and quotes so the CSV writer has to quote them.
_COMPANIES = """
8 first.last acme.com              Acme Corporation
3 first.last acme.io               Acme IO
6 first.last northwind.com         Northwind Traders, Inc.
6 flast      contoso.com           Contoso Ltd
5 flast      initech.com           Initech "Labs" LLC
7 first.last brightwave.io         Brightwave Analytics
7 first.last meridianbank.com      Meridian Bank, N.A.
4 first      kestrelcloud.io       Kestrel Cloud
5 first.last hanseatic-freight.de  Hanseatic Freight GmbH
6 first.last tidewaterhealth.org   Tidewater Health
4 first.last nordlys.no            Nordlys Energi AS
4 first.last yamato-precision.jp   Yamato Precision KK
5 flast      lumenrobotics.com     Lumen Robotics
3 first.last solymar.es            Sol y Mar Viajes S.L.
3 first      pinecone-labs.dev     Pinecone Labs
4 first.last saffronledger.com     Saffron Ledger
4 flast      quarrylane.io         Quarry Lane Data
6 flast      cedarpoint.edu        Cedar Point University
3 first.last harborpine.com        Harbor & Pine
4 first.last ubuntupay.co.za       Ubuntu Payments (Pty) Ltd
3 flast      atlasbaird.com        Atlas, Baird & Finch LLP
2 first      bluedoor.studio       The "Blue Door" Studio
4 first.last redwoodutilities.org  Redwood Utilities
3 first.last lagosfintech.ng       Lagos Fintech Hub
3 first.last bergstrom.se          Bergström & Co
4 first_last orbitalfreight.com    Orbital Freight Systems
5 first.last granitepeak.dev       Granite Peak Software
4 flast      mosaichealth.com      Mosaic Health Partners
3 first.last velamobility.eu       Vela Mobility
3 first      copperleaf.gg         Copperleaf Games
5 first.last sunbirdair.com        Sunbird Airlines
4 flast      halcyon-insurance.com Halcyon Insurance
4 first.last tamarindretail.com    Tamarind Retail Group
3 first.last bluefinmaritime.sg    Bluefin Maritime
3 first.last aurora-schools.org    Aurora Public Schools
2 first      kiwiledger.co.nz      Kiwi Ledger Ltd
5 flast      polaris-semi.com      Polaris Semiconductors
3 first.last cascademedia.tv       Cascade Media
3 first_last ironclad.security     Ironclad Security
3 first.last verdantagri.com.br    Verdant Agritech
2 first.last fjordanalytics.fi     Fjord Analytics
5 first.last zenithlogistics.in    Zenith Logistics
3 flast      marigoldbio.com       Marigold Biotech
3 first.last oakridgecounty.gov    Oakridge County Government
2 first.last saguarosolar.com      Saguaro Solar
"""
COMPANIES: tuple[tuple[str, str, str, int], ...] = tuple(
    (name, domain, convention, int(weight))
    for weight, convention, domain, name in (line.split(None, 3) for line in _COMPANIES.strip().splitlines())
)

# Mailboxes that belong to no portal account (GitLab.com users, billing contacts, newsletter readers).
# fmt: off
OTHER_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "proton.me", "qq.com", "naver.com",
              "orange.fr", "mail.ru", "example.org", "uni-heidelberg.de", "tu-delft.nl")
# fmt: on

# --------------------------------------------------------------------------------------------------
# Mail traffic. `{p}` is a project path, `{n}` a number.
# fmt: off
PROJECTS = ("acme/platform", "data-eng/etl", "web/storefront", "infra/terraform", "mobile/ios-app",
            "ml/feature-store", "docs/handbook", "security/scanners", "billing/api", "ops/runbooks")
# fmt: on
GITLAB_SUBJECTS = (
    "{p} | Pipeline #{n} has failed for main",
    "{p} | Your pipeline has failed",
    "{p} | Pipeline fixed for main",
    "Re: {p} | Fix flaky integration test (!{n})",
    "{p} | New issue: Upgrade runner images (#{n})",
    "Re: {p} | Broken link in README (#{n})",
    "{p} | Merge request !{n} was merged",
    "You have been mentioned in {p}#{n}",
    "Access to the {p} project was granted",
    "Your personal access token will expire in 7 days",
    "Sign-in from new location",
    "Password Changed",
    "Unlock instructions",
    "Two-factor authentication enabled",
)
PORTAL_SUBJECTS = (
    "Your GitLab subscription receipt",
    "Your subscription will renew in 30 days",
    "Your subscription has been renewed",
    "Your invoice INV{n} is ready",
    "Welcome to the GitLab Customers Portal",
    "Your compute minutes purchase",
    "Your trial ends in 3 days",
    "Payment method updated",
)
MARKETING_SUBJECTS = (
    "Webinar reminder: CI/CD best practices starts tomorrow",
    "You're invited: DevSecOps World Tour",
    "What's new in GitLab this month",
    "Your free trial: getting started guide",
)
NEWSLETTER_SUBJECT = "GitLab newsletter: release highlights and upcoming events"
RESET = "Reset password instructions"
CONFIRM = "Confirmation instructions"

MAILGUN_FLAGS = {"is-routed": False, "is-authenticated": True, "is-system-test": False, "is-test-mode": False}
SENDERS = {
    "gitlab": "GitLab <gitlab@mg.gitlab.com>",
    "portal": "GitLab Customers Portal <noreply@customers.gitlab.com>",
    "other": "GitLab Team <news@mg.about.gitlab.com>",
}
BOUNCES = (
    (550, "5.1.1 The email account that you tried to reach does not exist."),
    (550, "5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)"),
    (554, "5.7.1 Service unavailable; Client host blocked using Spamhaus"),
)
TEMP_FAILURES = (
    (421, "4.7.0 Try again later, closing connection."),
    (451, "4.7.1 Greylisting in action, please come back later"),
    (452, "4.2.2 The email account that you tried to reach is over quota."),
)
SUPPRESSIONS = {
    "suppress_bounce": ("suppress-bounce", 605, "Not delivering to previously bounced address"),
    "suppress_unsubscribe": ("suppress-unsubscribe", 606, "Not delivering to unsubscribed address"),
    "suppress_complaint": (
        "suppress-complaint",
        607,
        "Not delivering to a user who marked your messages as spam",
    ),
}
MX_HOSTS = {
    "gmail.com": "gmail-smtp-in.l.google.com",
    "yahoo.com": "mta6.am0.yahoodns.net",
    "icloud.com": "mx01.mail.icloud.com",
    "outlook.com": "outlook-com.olc.protection.outlook.com",
    "hotmail.com": "hotmail-com.olc.protection.outlook.com",
}
CITIES = (
    ("US", "CA", "San Francisco"),
    ("DE", "BE", "Berlin"),
    ("IN", "KA", "Bengaluru"),
    ("BR", "SP", "São Paulo"),
    ("JP", "13", "Tokyo"),
    ("NG", "LA", "Lagos"),
    ("GB", "ENG", "London"),
)
CLIENTS = (
    ("desktop", "Windows", "Outlook"),
    ("mobile", "iOS", "Apple Mail"),
    ("desktop", "macOS", "Chrome"),
    ("mobile", "Android", "Gmail"),
)


# --------------------------------------------------------------------------------------------------
# Planted cases. `when` is (days before the as-of date, hour, minute[, second]) in UTC.
@dataclass(frozen=True)
class Mail:
    role: str  # 'gitlab' | 'portal' | 'other'
    subject: str
    when: tuple[int, ...]
    fate: str  # delivered | temp_only | temp_then_delivered | bounce | complained | suppress_*
    to: str = ""  # recipient exactly as written in the event; default: the account email
    name: str = ""  # display name in the To: header
    message_id: str = ""  # shared by every recipient of a bulk send; default: one per message
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plant:
    check: str
    variant: str
    flagged: bool
    first: str
    last: str
    email: str
    company: str = ""
    mails: tuple[Mail, ...] = ()
    confirmed: bool = True
    created: tuple[int, ...] = ()  # default: a random day months or years ago
    sign_in: tuple[int, ...] | str = "random"  # 'random' | 'never' | when
    linked: bool = False
    gitlab_email: str = ""  # linked accounts: empty means the same as email
    login_activated: bool = True
    unconfirmed_email: str = ""
    tz: str = ""  # write this row's timestamps in ISO form with this UTC offset, e.g. '+05:30'
    group: str = ""  # duplicate cluster or near-miss pair this account belongs to
    evidence: str = ""  # unconfirmed: fate of the latest portal confirmation mail
    also: tuple[str, ...] = ()  # further checks that must flag this account


U, R, D, M, B = (
    "unconfirmed_accounts",
    "gitlab_password_resets",
    "duplicate_signups",
    "email_mismatches",
    "undeliverable_emails",
)
SUFFIXED_RESET = RESET + " | GitLab"


def _m(role: str, subject: str, when: tuple[int, ...], fate: str = "delivered", to: str = "") -> Mail:
    return Mail(role, subject, when, fate, to)


# The table is kept one-case-per-line on purpose; the formatter would spread it over a thousand lines.
# fmt: off
PLANTS = (
    # ---- unconfirmed accounts: every one is flagged; `evidence` names the latest portal confirmation.
    Plant(U, "confirmation_delivered", True, "Hannah", "Vogel", "hannah@kestrelcloud.io", "Kestrel Cloud",
          (_m("portal", CONFIRM, (4, 9, 12)),), confirmed=False, evidence="delivered"),
    Plant(U, "confirmation_delivered_subject_suffix", True, "Ifeoma", "Chukwu", "ifeoma.chukwu@gmail.com", "",
          (_m("portal", CONFIRM + " | Customers Portal", (2, 15, 40)),), confirmed=False,
          evidence="delivered"),
    Plant(U, "confirmation_delivered_iso_timestamps", True, "Tobias", "Lindgren",
          "tobias.lindgren@hanseatic-freight.de", "Hanseatic Freight GmbH",
          (_m("portal", CONFIRM, (7, 6, 3)),), confirmed=False, tz="+01:00", evidence="delivered"),
    Plant(U, "confirmation_bounced", True, "Rosa", "Delgado", "rosa.delgado@tidewaterhealth.org",
          "Tidewater Health", (_m("portal", CONFIRM, (5, 13, 20), "bounce"),), confirmed=False,
          evidence="failed permanently", also=(B,)),
    Plant(U, "confirmation_bounced_then_suppressed", True, "Farhan", "Qureshi", "farhan.qureshi@yahoo.com",
          "", (_m("portal", CONFIRM, (9, 10, 2), "bounce"),
               _m("portal", CONFIRM, (8, 18, 45), "suppress_bounce")),
          confirmed=False, evidence="failed permanently", also=(B,)),
    Plant(U, "confirmation_failed_temporarily", True, "Ingrid", "Solberg", "ingrid.solberg@nordlys.no",
          "Nordlys Energi AS", (_m("portal", CONFIRM, (0, 14, 5), "temp_only"),), confirmed=False,
          evidence="failed temporarily"),
    Plant(U, "confirmation_failed_temporarily", True, "Kenta", "Mori", "kenta.mori@yamato-precision.jp",
          "Yamato Precision KK", (_m("portal", CONFIRM, (0, 19, 30), "temp_only"),), confirmed=False,
          evidence="failed temporarily"),
    Plant(U, "never_seen_old_signup", True, "Beatrix", "Hollis", "beatrix.hollis@outlook.com", "",
          confirmed=False, created=(212, 16, 4), sign_in="never", evidence="never seen"),
    Plant(U, "never_seen_old_signup", True, "Anselm", "Krüger", "anselm.krueger@granitepeak.dev",
          "Granite Peak Software", confirmed=False, created=(61, 8, 50), sign_in="never",
          evidence="never seen"),
    Plant(U, "confirmation_only_from_gitlab_com", True, "Dalia", "Haddad", "dhaddad@lumenrobotics.com",
          "Lumen Robotics", (_m("gitlab", CONFIRM, (3, 11, 15)),), confirmed=False, created=(3, 11, 2),
          sign_in="never", evidence="never seen"),
    Plant(U, "login_not_activated", True, "Wendell", "Okoro", "wendell.okoro@meridianbank.com",
          "Meridian Bank, N.A.", confirmed=False, created=(480, 12, 0), sign_in="never",
          login_activated=False, evidence="never seen"),
    Plant(U, "recipient_in_other_case", True, "Lucía", "Ferrán", "lucia.ferran@solymar.es",
          "Sol y Mar Viajes S.L.", (_m("portal", CONFIRM, (6, 8, 41), to="Lucia.Ferran@SolYMar.es"),),
          confirmed=False, evidence="delivered"),
    Plant(U, "recipient_in_other_case", True, "Marcus", "Oyelaran", "marcus.oyelaran@icloud.com", "",
          (_m("portal", CONFIRM, (1, 21, 9), "bounce", to="Marcus.Oyelaran@iCloud.com"),), confirmed=False,
          evidence="failed permanently", also=(B,)),
    Plant(U, "resent_latest_delivered", True, "Yara", "Nascimento", "yara.nascimento@hotmail.com", "",
          (_m("portal", CONFIRM, (10, 7, 30), "temp_then_delivered"), _m("portal", CONFIRM, (2, 9, 55))),
          confirmed=False, evidence="delivered"),
    Plant(U, "resent_latest_failed_temporarily", True, "Piotr", "Zieliński", "piotr@pinecone-labs.dev",
          "Pinecone Labs", (_m("portal", CONFIRM, (8, 12, 0)),
                            _m("portal", CONFIRM, (0, 16, 45), "temp_only")),
          confirmed=False, evidence="failed temporarily"),
    Plant(U, "pending_reconfirmation", False, "Greta", "Holm", "greta.holm@saffronledger.com",
          "Saffron Ledger", (_m("portal", CONFIRM, (3, 10, 10), to="greta@holm.family"),),
          unconfirmed_email="greta@holm.family"),
    Plant(U, "pending_reconfirmation", False, "Samir", "Benali", "sbenali@quarrylane.io", "Quarry Lane Data",
          unconfirmed_email="samir.benali@protonmail.com"),
    Plant(U, "confirmed_login_not_activated", False, "Odile", "Marchand", "odile.marchand@velamobility.eu",
          "Vela Mobility", login_activated=False, sign_in="never"),
    # ---- password resets sent by GitLab.com, not by the portal.
    Plant(R, "reset_in_window_signed_in_before", True, "Felix", "Baumann",
          "felix.baumann@hanseatic-freight.de", "Hanseatic Freight GmbH", (_m("gitlab", RESET, (2, 8, 14)),),
          sign_in=(9, 17, 30), linked=True),
    Plant(R, "reset_in_window_signed_in_before", True, "Aditi", "Venkatesan", "aditi.venkatesan@gmail.com",
          "", (_m("gitlab", RESET, (3, 10, 0)),), sign_in=(3, 7, 0), tz="+05:30"),
    Plant(R, "reset_in_window_never_signed_in", True, "Grace", "Whitfield", "gwhitfield@cedarpoint.edu",
          "Cedar Point University", (_m("gitlab", RESET, (5, 14, 22)),), sign_in="never", linked=True),
    Plant(R, "reset_in_window_never_signed_in", True, "Emilio", "Ibarra", "emilio.ibarra@outlook.com", "",
          (_m("gitlab", RESET, (1, 6, 48)),), sign_in="never"),
    Plant(R, "reset_subject_suffix", True, "Naledi", "Khumalo", "naledi.khumalo@ubuntupay.co.za",
          "Ubuntu Payments (Pty) Ltd", (_m("gitlab", SUFFIXED_RESET, (4, 19, 3)),), sign_in=(40, 9, 0)),
    Plant(R, "reset_subject_suffix", True, "Lorenzo", "Bassi", "lorenzo.bassi@gmail.com", "",
          (_m("gitlab", SUFFIXED_RESET, (0, 7, 37)),), sign_in=(12, 13, 13), linked=True),
    Plant(R, "reset_recipient_in_other_case", True, "Sid", "Kapoor", "sid@kestrelcloud.io", "Kestrel Cloud",
          (_m("gitlab", RESET, (2, 22, 5), to="Sid@KestrelCloud.io"),), sign_in=(20, 8, 8)),
    Plant(R, "reset_at_window_start", True, "Mirela", "Popa", "mirela.popa@yahoo.com", "",
          (_m("gitlab", RESET, (6, 0, 0, 40)),), sign_in=(30, 12, 0)),
    Plant(R, "reset_late_on_as_of_day", True, "Jonah", "Whitaker", "jonah.whitaker@harborpine.com",
          "Harbor & Pine", (_m("gitlab", RESET, (0, 23, 50)),), sign_in=(0, 9, 15)),
    Plant(R, "two_resets_signed_in_between", True, "Keiko", "Arai", "keiko.arai@icloud.com", "",
          (_m("gitlab", RESET, (5, 8, 0)), _m("gitlab", RESET, (1, 8, 30))), sign_in=(4, 10, 0)),
    Plant(R, "account_email_has_stray_spaces", True, "Ravi", "Shankar", " ravi.shankar@brightwave.io ",
          "Brightwave Analytics", (_m("gitlab", RESET, (3, 16, 16), to="ravi.shankar@brightwave.io"),),
          sign_in=(25, 10, 0)),
    Plant(R, "reset_from_portal_only", False, "Clara", "Lindholm", "clara.lindholm@nordlys.no",
          "Nordlys Energi AS", (_m("portal", RESET, (2, 12, 12)),), sign_in=(15, 9, 9)),
    Plant(R, "reset_from_portal_only", False, "Hamza", "Siddiqui", "hamza.siddiqui@gmail.com", "",
          (_m("portal", SUFFIXED_RESET, (5, 7, 7)),), sign_in="never"),
    Plant(R, "reset_then_signed_in", False, "Bianca", "Moretti", "bianca.moretti@outlook.com", "",
          (_m("gitlab", RESET, (3, 9, 0)),), sign_in=(3, 9, 25)),
    Plant(R, "reset_then_signed_in_iso_offset", False, "Derek", "Lawson", "derek.lawson@redwoodutilities.org",
          "Redwood Utilities", (_m("gitlab", RESET, (4, 9, 12)),), sign_in=(4, 11, 30), tz="-05:00"),
    Plant(R, "reset_before_window", False, "Ewa", "Kamińska", "ewa@pinecone-labs.dev", "Pinecone Labs",
          (_m("gitlab", RESET, (7, 23, 59, 5)),), sign_in=(40, 10, 0)),
    Plant(R, "reset_before_window", False, "Marta", "Sousa", "marta.sousa@gmail.com", "",
          (_m("gitlab", RESET, (9, 15, 0)),), sign_in="never"),
    Plant(R, "reset_to_lookalike_address", False, "Kwame", "Asamoah", "kwame.asamoah@lagosfintech.ng",
          "Lagos Fintech Hub", (_m("gitlab", RESET, (2, 10, 30), to="kwame.asamoah@lagosfintech.co"),),
          sign_in=(33, 9, 0)),
    # ---- duplicate sign-ups: `group` is the cluster (or, for near misses, the look-alike pair).
    *(Plant(D, "first_last_vs_first.last", True, "Olivia", "Brandt", e, "Brightwave Analytics",
            group="olivia") for e in ("olivia_brandt@brightwave.io", "olivia.brandt@brightwave.io")),
    *(Plant(D, "first_last_vs_first.last", True, "Rajesh", "Iyer", e, "Meridian Bank, N.A.", group="rajesh")
      for e in ("rajesh_iyer@meridianbank.com", "rajesh.iyer@meridianbank.com")),
    *(Plant(D, "gmail_dots", True, "Ana", "Lima", e, group="ana")
      for e in ("ana.lima@gmail.com", "analima@gmail.com")),
    *(Plant(D, "plus_tag", True, "Bo", "Lindqvist", e, group="bo")
      for e in ("bo+portal@outlook.com", "bo@outlook.com")),
    Plant(D, "three_account_cluster", True, "Tomáš", "Novák", "tomas.novak@gmail.com", group="tomas"),
    Plant(D, "three_account_cluster", True, "Tomas", "Novak", "tomasnovak@gmail.com", group="tomas"),
    Plant(D, "three_account_cluster", True, "Tomáš", "Novák", "tomas.novak+gitlab@gmail.com",
          group="tomas"),
    *(Plant(D, "case_only_difference", True, "Wei", "Chen", e, "Acme IO", group="wei")
      for e in ("Chen.Wei@acme.io", "chen.wei@acme.io")),
    *(Plant(D, "same_name_other_domain", True, "Oluwadamilare", "Adebayo", e, c, group="dami")
      for e, c in (("oadebayo@quarrylane.io", "Quarry Lane Data"), ("dami.adebayo@yahoo.com", ""))),
    Plant(D, "different_first_names", False, "John", "Smith", "john.smith@acme.com", "Acme Corporation",
          group="smith"),
    Plant(D, "different_first_names", False, "Jane", "Smith", "jane.smith@acme.com", "Acme Corporation",
          group="smith"),
    Plant(D, "role_address_two_companies", False, "Grace", "Ho", "billing@northwind.com",
          "Northwind Traders, Inc.", group="billing"),
    Plant(D, "role_address_two_companies", False, "Tariq", "Hamid", "billing@contoso.com", "Contoso Ltd",
          group="billing"),
    Plant(D, "shared_last_name_one_company", False, "Priya", "Patel", "ppatel@initech.com",
          'Initech "Labs" LLC', group="patel"),
    Plant(D, "shared_last_name_one_company", False, "Raj", "Patel", "rpatel@initech.com",
          'Initech "Labs" LLC', group="patel"),
    # ---- linked accounts whose GitLab.com email is not the portal email.
    Plant(M, "different_address", True, "Hugo", "Fernandes", "hugo.fernandes@tidewaterhealth.org",
          "Tidewater Health", linked=True, gitlab_email="hugo.f.dev@gmail.com"),
    Plant(M, "different_address", True, "Sunita", "Bhandari", "sunita.bhandari@gmail.com", "", linked=True,
          gitlab_email="sbhandari@lumenrobotics.com"),
    Plant(M, "different_address", True, "Callum", "Fraser", "cfraser@atlasbaird.com",
          "Atlas, Baird & Finch LLP", linked=True, gitlab_email="callum@fraser.dev"),
    Plant(M, "plus_tag_variant", True, "Nadia", "Rahman", "nadia.rahman@saffronledger.com", "Saffron Ledger",
          linked=True, gitlab_email="nadia.rahman+gitlab@saffronledger.com"),
    Plant(M, "plus_tag_variant", True, "Erik", "Sandberg", "erik.sandberg@gmail.com", "", linked=True,
          gitlab_email="erik.sandberg+gl@gmail.com"),
    Plant(M, "same_local_part_other_domain", True, "Mei", "Tanaka", "mei.tanaka@yamato-precision.jp",
          "Yamato Precision KK", linked=True, gitlab_email="mei.tanaka@yamato.co.jp"),
    Plant(M, "same_local_part_other_domain", True, "Joaquim", "Duarte", "joaquim.duarte@solymar.es",
          "Sol y Mar Viajes S.L.", linked=True, gitlab_email="joaquim.duarte@solymar.com"),
    Plant(M, "different_address_upper_case", True, "Aylin", "Yıldız", "aylin@bluedoor.studio",
          'The "Blue Door" Studio', linked=True, gitlab_email="AYLIN@YILDIZ.DEV"),
    Plant(M, "gitlab_email_case_only", False, "Patrick", "Doyle", "patrick.doyle@harborpine.com",
          "Harbor & Pine", linked=True, gitlab_email="Patrick.Doyle@HarborPine.com"),
    Plant(M, "gitlab_email_case_only", False, "Sakura", "Hayashi", "sakura.hayashi@icloud.com", "",
          linked=True, gitlab_email="SAKURA.HAYASHI@ICLOUD.COM"),
    Plant(M, "gitlab_email_spaces_only", False, "Leon", "Hartmann", "leon.hartmann@bergstrom.se",
          "Bergström & Co", linked=True, gitlab_email=" leon.hartmann@bergstrom.se "),
    Plant(M, "gitlab_email_spaces_only", False, "Imani", "Wanjiku", "imani.wanjiku@gmail.com", "",
          linked=True, gitlab_email="Imani.Wanjiku@gmail.com  "),
    Plant(M, "unlinked_no_gitlab_email", False, "Theo", "Marsh", "theo.marsh@outlook.com", ""),
    Plant(M, "unlinked_no_gitlab_email", False, "Amaka", "Obi", "amaka.obi@lagosfintech.ng",
          "Lagos Fintech Hub"),
    # ---- addresses Mailgun will not deliver to (failures from any sending domain count).
    Plant(B, "bounced_after_earlier_delivery", True, "Viktor", "Hale", "viktor.hale@hotmail.com", "",
          (_m("gitlab", "{p} | Your pipeline has failed", (9, 11, 0)),
           _m("gitlab", "{p} | Your pipeline has failed", (4, 11, 2), "bounce"))),
    Plant(B, "bounced_marketing_domain", True, "Chioma", "Nwankwo", "chioma.nwankwo@yahoo.com", "",
          (_m("other", NEWSLETTER_SUBJECT, (8, 15, 0), "bounce"),)),
    Plant(B, "bounced_portal_receipt", True, "Gustavo", "Prieto", "gprieto@atlasbaird.com",
          "Atlas, Baird & Finch LLP",
          (_m("portal", "Your GitLab subscription receipt", (6, 4, 20), "bounce"),)),
    Plant(B, "bounce_then_suppress_bounce_605", True, "Linnea", "Berglund", "linnea.berglund@nordlys.no",
          "Nordlys Energi AS",
          (_m("other", NEWSLETTER_SUBJECT, (8, 15, 1), "bounce"),
           _m("portal", "Your subscription will renew in 30 days", (3, 6, 0), "suppress_bounce"))),
    Plant(B, "suppress_bounce_605_only", True, "Darnell", "Whitby", "dwhitby@cedarpoint.edu",
          "Cedar Point University",
          (_m("gitlab", "Access to the {p} project was granted", (5, 9, 40), "suppress_bounce"),)),
    Plant(B, "complained", True, "Fiona", "Kerrigan", "fiona.kerrigan@gmail.com", "",
          (_m("other", NEWSLETTER_SUBJECT, (8, 15, 2), "complained"),)),
    Plant(B, "complained", True, "Reza", "Tehrani", "reza.tehrani@outlook.com", "",
          (_m("gitlab", "{p} | New issue: Upgrade runner images (#{n})", (2, 13, 0), "complained"),)),
    Plant(B, "suppress_complaint_607", True, "Ilse", "Vermeulen", "ilse.vermeulen@gmail.com", "",
          (_m("other", "What's new in GitLab this month", (1, 16, 0), "suppress_complaint"),)),
    Plant(B, "suppress_unsubscribe_606", True, "Howard", "Tsai", "htsai@quarrylane.io", "Quarry Lane Data",
          (_m("other", NEWSLETTER_SUBJECT, (2, 15, 0), "suppress_unsubscribe"),)),
    Plant(B, "bounce_recipient_in_other_case", True, "Noor", "Al-Sayed", "noor@kestrelcloud.io",
          "Kestrel Cloud", (_m("gitlab", "You have been mentioned in {p}#{n}", (3, 12, 0), "bounce",
                               to="Noor@KestrelCloud.IO"),)),
    Plant(B, "bounce_then_later_delivery", False, "Mariana", "Quintero", "mariana.quintero@gmail.com", "",
          (_m("gitlab", "{p} | Pipeline fixed for main", (8, 10, 0), "bounce"),
           _m("gitlab", "{p} | Pipeline fixed for main", (3, 10, 0)))),
    Plant(B, "bounce_then_later_delivery_other_domain", False, "Stefan", "Ivić", "stefan.ivic@bergstrom.se",
          "Bergström & Co", (_m("gitlab", "Sign-in from new location", (7, 8, 0), "bounce"),
                             _m("portal", "Your invoice INV{n} is ready", (2, 8, 0)))),
    Plant(B, "temporary_failures_only", False, "Ayesha", "Karim", "ayesha.karim@hotmail.com", "",
          (_m("gitlab", "{p} | Merge request !{n} was merged", (0, 12, 0), "temp_only"),)),
    Plant(B, "temporary_failure_then_delivered", False, "Jules", "Perrin", "jules@bluedoor.studio",
          'The "Blue Door" Studio',
          (_m("portal", "Your GitLab subscription receipt", (6, 9, 0), "temp_then_delivered"),)),
)
# fmt: on

# --------------------------------------------------------------------------------------------------
# Files written verbatim (or nearly) into the sample folder.
CSV_HEADER = (
    "id,email,first_name,last_name,company,created_at,updated_at,confirmed_at,confirmation_sent_at,"
    "unconfirmed_email,last_sign_in_at,sign_in_count,provider,uid,gitlab_email,login_activated,billing_account_id"
)
AUDIT_TOML = """\
out = "../../reports"

[paths]
roots = [".", "../../reports"]

[inputs]
accounts = "accounts.csv"

[inputs.events]
"mg.gitlab.com" = "mailgun/mg.gitlab.com/*.jsonl.gz"
"customers.gitlab.com" = "mailgun/customers.gitlab.com/*.jsonl.gz"
"mg.about.gitlab.com" = "mailgun/mg.about.gitlab.com/*.jsonl.gz"

[domains]
gitlab = ["mg.gitlab.com"]
portal = ["customers.gitlab.com"]

[checks]
lookback_days = 7
"""

# Letters NFKD does not take apart, for ASCII-folding names into email local parts.
FOLD = {"ø": "o", "ł": "l", "ß": "ss", "æ": "ae", "đ": "d", "ı": "i"}
# Fates of mail to non-customers, weighted per sending domain by the generator.
OUTSIDER_FATES = (
    "delivered",
    "temp_then_delivered",
    "bounce",
    "suppress_bounce",
    "complained",
    "suppress_unsubscribe",
    "temp_only",
)


README = """\
# Sample data

Everything in this folder is synthetic and produced by `audit/sample.py`:

    account-audit sample --out data/sample --as-of {as_of}      # or: make sample

The generator is seeded (seed {seed}) and never looks at the clock, so running it again gives the same
bytes; `tests/test_sample_generator.py` fails if these files and a fresh run ever differ. Edit the
generator (planted cases live in `audit/sample_data.py`), regenerate, and commit both together.

## What is here

- `accounts.csv`: {accounts} portal accounts shaped like a Rails/Devise `customers` export. Most
  timestamps read `2026-03-04 10:11:12 UTC`; a few rows use ISO form with an offset
  (`2026-03-04T12:11:12+02:00`) and must be converted to UTC. Empty fields are NULL. Several company
  names contain commas or quotes, so the file relies on proper CSV quoting.
- `mailgun/<sending domain>/events-YYYY-MM-DD.jsonl.gz`: Mailgun Events API v3 items, one JSON object
  per line. Three sending domains: `mg.gitlab.com` (GitLab.com), `customers.gitlab.com` (the portal)
  and `mg.about.gitlab.com` (marketing). There is one dump per night for {nights} nights ending on the
  as-of date, and each covers three days, so one event (same `id`) shows up in up to three files:
  {events} distinct events, {lines} lines in all. De-duplicate on (domain, id).
- `audit.toml`: the job configuration for this folder; `make audit` runs it.
- `expected.json`: the planted truth. `checks` lists the ids each check must report (duplicate
  sign-ups as clusters), `near_misses` lists accounts built to look suspicious that must *not* be
  reported, and `cases` explains every planted account. None of it comes from running the checks.

## How the data is built

Background accounts (everything not listed below) are drawn so that no check can fire on them: every
first+last name is unique, no two addresses in one domain are within two edits of each other or share
last name and first initial, all are confirmed, linked accounts carry their portal email as GitLab
email, and the only mail they receive is delivered mail. Most events are this kind of noise:
GitLab.com notifications, portal receipts and newsletters, sent to customers and to many addresses
that belong to no account (those also get password resets, bounces and complaints). Some noise goes
to customers with their address in a different case.

Each planted account exists for exactly one check, apart from unconfirmed accounts whose
confirmation mail bounced, which are undeliverable as well (`also` in `cases`). Mail for an
unconfirmed account's `evidence` counts only when it came from the portal domain; the password-reset
window for as-of {as_of} is the seven days ending with that day, in UTC.

| check | variant | expected | id |
|---|---|---|---|
{table}
"""
