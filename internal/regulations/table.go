package regulations

import "time"

// Reviewed is the day the table was last checked against the primary sources.
const Reviewed = "2026-11-23"

// Table is every duty surveyguard tracks: data only, rendered with its
// citations into docs/regulations.md (go run ./hack/regdoc).
var Table = []Rule{
	// India: CERT-In.
	{
		Regime: CERTIn, Duty: Authority, Kind: Breach, Recipient: "CERT-In",
		Clock: Clock{6, Hours}, Start: Awareness, InForce: day(2022, time.June, 27),
		Citation: "CERT-In Directions No. 20(3)/2022-CERT-In of 28 April 2022 under s. 70B(6) of the IT Act 2000, direction (ii)",
		URL:      "https://www.cert-in.org.in/",
		Note:     "Runs from noticing the incident or being brought to notice of it. The directions took effect 60 days after issue (27 June 2022; 25 September 2022 for MSMEs).",
	},

	// European Union: GDPR.
	{
		Regime: GDPR, Duty: Authority, Kind: Breach, Recipient: "supervisory authority",
		Clock: Clock{72, Hours}, Start: Awareness, InForce: day(2018, time.May, 25), LateReasons: true,
		Citation: "Regulation (EU) 2016/679 (GDPR) Art. 33(1)",
		URL:      "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
		Note:     "A notification after 72 h must give the reasons for the delay.",
	},
	{
		Regime: GDPR, Duty: Individuals, Kind: Breach, Recipient: "data subjects",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Awareness, InForce: day(2018, time.May, 25), HighRiskOnly: true,
		Citation: "GDPR Art. 34(1), exceptions in Art. 34(3)",
		URL:      "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
		Note:     "When the breach is likely to result in a high risk to people's rights and freedoms.",
	},
	{
		Regime: GDPR, Duty: Response, Kind: Request, Recipient: "data subject",
		Clock: Clock{1, CalendarMonths}, Start: Receipt, InForce: day(2018, time.May, 25),
		Extension: &Extension{By: Clock{2, CalendarMonths}, NoticeWithin: "1 calendar month after receipt", Note: "where necessary, given the complexity and number of requests"},
		Citation:  "GDPR Art. 12(3); Art. 17 (erasure)",
		URL:       "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
	},

	// United Kingdom: UK GDPR.
	{
		Regime: UKGDPR, Duty: Authority, Kind: Breach, Recipient: "Information Commissioner (ICO)",
		Clock: Clock{72, Hours}, Start: Awareness, InForce: day(2021, time.January, 1), LateReasons: true,
		Citation: "UK GDPR Art. 33(1)",
		URL:      "https://www.legislation.gov.uk/eur/2016/679/article/33",
		Note:     "A notification after 72 h must give the reasons for the delay.",
	},
	{
		Regime: UKGDPR, Duty: Individuals, Kind: Breach, Recipient: "data subjects",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Awareness, InForce: day(2021, time.January, 1), HighRiskOnly: true,
		Citation: "UK GDPR Art. 34(1)",
		URL:      "https://www.legislation.gov.uk/eur/2016/679/article/34",
		Note:     "When the breach is likely to result in a high risk to people's rights and freedoms.",
	},
	{
		Regime: UKGDPR, Duty: Response, Kind: Request, Recipient: "data subject",
		Clock: Clock{1, CalendarMonths}, Start: Receipt, InForce: day(2021, time.January, 1),
		Extension: &Extension{By: Clock{2, CalendarMonths}, NoticeWithin: "1 calendar month after receipt", Note: "where necessary, given the complexity and number of requests"},
		Citation:  "UK GDPR Art. 12(3) and Art. 12A (inserted by the Data (Use and Access) Act 2025 s. 76, in force 5 February 2026)",
		Note:      "Art. 12A starts the period at the latest of receipt, receipt of the identity information asked for, or the fee, and stops it while the controller waits for a clarification it reasonably needs: give that later instant as the request's receipt.",
		URL:       "https://www.legislation.gov.uk/eur/2016/679/article/12",
	},

	// India: Digital Personal Data Protection Rules 2025.
	{
		Regime: DPDP, Duty: Authority, Kind: Breach, Recipient: "Data Protection Board (intimation)",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Awareness, InForce: day(2027, time.May, 13),
		Citation: "DPDP Rules 2025, Rule 7(2)(a)",
		URL:      "https://www.meity.gov.in/",
	},
	{
		Regime: DPDP, Duty: DetailedReport, Kind: Breach, Recipient: "Data Protection Board",
		Clock: Clock{72, Hours}, Start: Awareness, InForce: day(2027, time.May, 13),
		Extension: &Extension{Note: "a longer period the Board allows on a request in writing"},
		Citation:  "DPDP Rules 2025, Rule 7(2)(b)",
		URL:       "https://www.meity.gov.in/",
	},
	{
		Regime: DPDP, Duty: Individuals, Kind: Breach, Recipient: "affected Data Principals",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Awareness, InForce: day(2027, time.May, 13),
		Citation: "DPDP Rules 2025, Rule 7(1)",
		URL:      "https://www.meity.gov.in/",
	},
	{
		Regime: DPDP, Duty: Response, Kind: Request, Recipient: "Data Principal",
		Clock: Clock{90, CalendarDays}, Start: Receipt, InForce: day(2027, time.May, 13),
		Citation: "DPDP Act 2023 s. 12(3) and s. 13; DPDP Rules 2025, Rule 14(3) (grievances answered within at most 90 days)",
		URL:      "https://www.meity.gov.in/",
	},

	// California.
	{
		Regime: CCPA, Duty: Individuals, Kind: Breach, Recipient: "affected California residents",
		Clock: Clock{30, CalendarDays}, Start: Discovery, InForce: day(2026, time.January, 1), Pausable: true,
		Citation: "Cal. Civ. Code 1798.82(a), as amended by SB 446 (2025); law-enforcement delay 1798.82(c)",
		URL:      "https://leginfo.legislature.ca.gov/faces/codes_displaySection.xhtml?lawCode=CIV&sectionNum=1798.82",
		Note:     "Runs from discovery of the breach or notification of it.",
	},
	{
		Regime: CCPA, Duty: AttorneyGeneral, Kind: Breach, Recipient: "Attorney General (sample notice)",
		Clock: Clock{15, CalendarDays}, Start: AfterDuty, After: Individuals, InForce: day(2026, time.January, 1), MinResidents: 501,
		Citation: "Cal. Civ. Code 1798.82(f), as amended by SB 446 (2025)",
		URL:      "https://leginfo.legislature.ca.gov/faces/codes_displaySection.xhtml?lawCode=CIV&sectionNum=1798.82",
		Note:     "When more than 500 California residents are notified.",
	},
	{
		Regime: CCPA, Duty: Acknowledgement, Kind: Request, Recipient: "consumer",
		Clock: Clock{10, BusinessDays}, Start: Receipt, InForce: day(2020, time.August, 14),
		Citation: "Cal. Code Regs. tit. 11, § 7021(a)",
		URL:      "https://cppa.ca.gov/regulations/",
	},
	{
		Regime: CCPA, Duty: Response, Kind: Request, Recipient: "consumer",
		Clock: Clock{45, CalendarDays}, Start: Receipt, InForce: day(2020, time.January, 1),
		Extension: &Extension{By: Clock{45, CalendarDays}, NoticeWithin: "45 calendar days after receipt", Note: "once, when reasonably necessary"},
		Citation:  "Cal. Civ. Code 1798.130(a)(2); Cal. Code Regs. tit. 11, § 7021(b)",
		URL:       "https://leginfo.legislature.ca.gov/faces/codes_displaySection.xhtml?lawCode=CIV&sectionNum=1798.130",
	},

	// Brazil: LGPD.
	{
		Regime: LGPD, Duty: Authority, Kind: Breach, Recipient: "ANPD",
		Clock: Clock{3, BusinessDays}, Start: Awareness, InForce: day(2024, time.April, 26), LateReasons: true,
		Citation: "LGPD (Lei 13.709/2018) Art. 48; Resolução CD/ANPD nº 15/2024, Art. 6",
		URL:      "https://www.gov.br/anpd/pt-br",
		Note:     "Runs from knowing that the incident affected personal data (Art. 6 §1); a late notice must give its reasons. Doubled for small processing agents (Art. 6 §8), which this table does not model.",
	},
	{
		Regime: LGPD, Duty: Individuals, Kind: Breach, Recipient: "data subjects",
		Clock: Clock{3, BusinessDays}, Start: Awareness, InForce: day(2024, time.April, 26),
		Citation: "Resolução CD/ANPD nº 15/2024, Art. 9",
		URL:      "https://www.gov.br/anpd/pt-br",
	},

	// European Union: NIS2 (significant incidents of essential and important entities).
	{
		Regime: NIS2, Duty: EarlyWarning, Kind: Breach, Recipient: "CSIRT or competent authority",
		Clock: Clock{24, Hours}, Start: Awareness, InForce: day(2024, time.October, 18),
		Citation: "Directive (EU) 2022/2555 (NIS2) Art. 23(4)(a)",
		URL:      "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
	},
	{
		Regime: NIS2, Duty: Authority, Kind: Breach, Recipient: "CSIRT or competent authority (incident notification)",
		Clock: Clock{72, Hours}, Start: Awareness, InForce: day(2024, time.October, 18),
		Citation: "NIS2 Art. 23(4)(b)",
		URL:      "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
	},
	{
		Regime: NIS2, Duty: FinalReport, Kind: Breach, Recipient: "CSIRT or competent authority",
		Clock: Clock{1, CalendarMonths}, Start: AfterDuty, After: Authority, InForce: day(2024, time.October, 18),
		Citation: "NIS2 Art. 23(4)(d)",
		URL:      "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
		Note:     "A progress report instead, and the final report within a month of handling the incident, when it is still ongoing (Art. 23(4)(e)).",
	},

	// Singapore: PDPA.
	{
		Regime: SingaporePDPA, Duty: Authority, Kind: Breach, Recipient: "Personal Data Protection Commission",
		Clock: Clock{3, CalendarDays}, Start: Assessed, InForce: day(2021, time.February, 1),
		Citation: "Personal Data Protection Act 2012 s. 26D(1)",
		URL:      "https://sso.agc.gov.sg/Act/PDPA2012",
		Note:     "No later than 3 calendar days after the day of the assessment; the assessment itself must be reasonable and expeditious (s. 26C(3)).",
	},
	{
		Regime: SingaporePDPA, Duty: Individuals, Kind: Breach, Recipient: "affected individuals",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Assessed, InForce: day(2021, time.February, 1),
		Citation: "Personal Data Protection Act 2012 s. 26D(2)",
		URL:      "https://sso.agc.gov.sg/Act/PDPA2012",
		Note:     "As soon as practicable, at or after notifying the Commission; not at all when a law-enforcement agency or the Commission directs so (s. 26D(6)).",
	},

	// Australia: Notifiable Data Breaches scheme.
	{
		Regime: AustraliaNDB, Duty: Assessment, Kind: Breach, Recipient: "(the entity itself)",
		Clock: Clock{30, CalendarDays}, Start: Awareness, InForce: day(2018, time.February, 22),
		Citation: "Privacy Act 1988 (Cth) s. 26WH(2)",
		URL:      "https://www.legislation.gov.au/C2004A03712/latest/text",
		Note:     "Take all reasonable steps to finish the assessment of a suspected eligible data breach within 30 days; met by spec.assessedAt.",
	},
	{
		Regime: AustraliaNDB, Duty: Authority, Kind: Breach, Recipient: "Australian Information Commissioner",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Assessed, InForce: day(2018, time.February, 22),
		Citation: "Privacy Act 1988 (Cth) s. 26WK(2)",
		URL:      "https://www.legislation.gov.au/C2004A03712/latest/text",
		Note:     "As soon as practicable.",
	},
	{
		Regime: AustraliaNDB, Duty: Individuals, Kind: Breach, Recipient: "affected individuals",
		Clock: Clock{Unit: WithoutUndueDelay}, Start: Assessed, InForce: day(2018, time.February, 22),
		Citation: "Privacy Act 1988 (Cth) s. 26WL(3)",
		URL:      "https://www.legislation.gov.au/C2004A03712/latest/text",
		Note:     "As soon as practicable after the statement to the Commissioner.",
	},

	// United States: HIPAA (a patient-satisfaction survey is an NPS survey too).
	{
		Regime: HIPAA, Duty: Individuals, Kind: Breach, Recipient: "affected individuals",
		Clock: Clock{60, CalendarDays}, Start: Discovery, InForce: day(2009, time.September, 23), Pausable: true,
		Citation: "45 CFR 164.404(b); law-enforcement delay 164.412",
		URL:      "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-D",
		Note:     "Without unreasonable delay and in no case later than 60 calendar days after discovery.",
	},
	{
		Regime: HIPAA, Duty: Secretary, Kind: Breach, Recipient: "Secretary of Health and Human Services",
		Clock: Clock{60, CalendarDays}, Start: Discovery, InForce: day(2009, time.September, 23), Pausable: true, MinResidents: 500,
		Citation: "45 CFR 164.408(b)",
		URL:      "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-D",
		Note:     "When 500 or more individuals are affected: contemporaneously with the notice to individuals, so within its 60 days.",
	},
	{
		Regime: HIPAA, Duty: SecretaryAnnualLog, Kind: Breach, Recipient: "Secretary of Health and Human Services",
		Clock: Clock{60, CalendarDays}, Start: EndOfYear, InForce: day(2009, time.September, 23), Pausable: true, BelowResidents: 500,
		Citation: "45 CFR 164.408(c)",
		URL:      "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-D",
		Note:     "When fewer than 500 individuals are affected: within 60 days after the end of the calendar year of discovery.",
	},
}
