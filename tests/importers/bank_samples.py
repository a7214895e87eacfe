# ruff: noqa: E501  (sample files keep the line shapes real exports have)
"""Bank statements as banks really write them, each dialect a test case.

Written by the tests into the watched folder; the expected numbers are computed from the
same data the files are made of, below.
"""

from __future__ import annotations

# Banque Populaire style OFX 1.0.2 (SGML): Windows-1252, decimal commas, unclosed leaf tags,
# two accounts in one file, card date and masked card in NAME, the merchant in MEMO.
OFX_SGML_FR = (
    "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n"
    "CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n"
    "<OFX>\r\n<SIGNONMSGSRSV1>\r\n<SONRS>\r\n<STATUS>\r\n<CODE>0\r\n<SEVERITY>INFO\r\n</STATUS>\r\n"
    "<DTSERVER>20261031120000\r\n<LANGUAGE>FRA\r\n</SONRS>\r\n</SIGNONMSGSRSV1>\r\n"
    "<BANKMSGSRSV1>\r\n<STMTTRNRS>\r\n<TRNUID>00000000\r\n<STATUS>\r\n<CODE>0\r\n<SEVERITY>INFO\r\n"
    "</STATUS>\r\n<STMTRS>\r\n<CURDEF>EUR\r\n<BANKACCTFROM>\r\n<BANKID>13807\r\n<BRANCHID>00811\r\n"
    "<ACCTID>30021234567\r\n<ACCTTYPE>CHECKING\r\n</BANKACCTFROM>\r\n<BANKTRANLIST>\r\n"
    "<DTSTART>20261001\r\n<DTEND>20261031\r\n"
    "<STMTTRN>\r\n<TRNTYPE>DEBIT\r\n<DTPOSTED>20261003\r\n<DTUSER>20261002\r\n<TRNAMT>-80,32\r\n"
    "<FITID>2026100300001\r\n<NAME>021026 CB****6516\r\n<MEMO>CARREFOUR MARKET NANTES\r\n</STMTTRN>\r\n"
    "<STMTTRN>\r\n<TRNTYPE>CREDIT\r\n<DTPOSTED>20261005\r\n<TRNAMT>2450,00\r\n"
    "<FITID>2026100500002\r\n<NAME>VIR SALAIRE OCTOBRE\r\n<MEMO>SOCIÉTÉ GÉNÉRALE DES EAUX\r\n</STMTTRN>\r\n"
    "<STMTTRN>\r\n<TRNTYPE>DEBIT\r\n<DTPOSTED>20261012\r\n<TRNAMT>-1337,42\r\n"
    "<FITID>2026101200003\r\n<NAME>PRLV LOYER\r\n<MEMO>FONCIÈRE DU MAIL\r\n</STMTTRN>\r\n"
    "</BANKTRANLIST>\r\n<LEDGERBAL>\r\n<BALAMT>3012,26\r\n<DTASOF>20261031\r\n</LEDGERBAL>\r\n"
    "</STMTRS>\r\n</STMTTRNRS>\r\n"
    "<STMTTRNRS>\r\n<TRNUID>00000001\r\n<STATUS>\r\n<CODE>0\r\n<SEVERITY>INFO\r\n</STATUS>\r\n"
    "<STMTRS>\r\n<CURDEF>EUR\r\n<BANKACCTFROM>\r\n<BANKID>13807\r\n<BRANCHID>00811\r\n"
    "<ACCTID>30029876543\r\n<ACCTTYPE>SAVINGS\r\n</BANKACCTFROM>\r\n<BANKTRANLIST>\r\n"
    "<DTSTART>20261001\r\n<DTEND>20261031\r\n"
    "<STMTTRN>\r\n<TRNTYPE>CREDIT\r\n<DTPOSTED>20261006\r\n<TRNAMT>200,00\r\n"
    "<FITID>2026100600001\r\n<NAME>VIR EPARGNE\r\n</STMTTRN>\r\n"
    "</BANKTRANLIST>\r\n<LEDGERBAL>\r\n<BALAMT>5200,00\r\n<DTASOF>20261031\r\n</LEDGERBAL>\r\n"
    "</STMTRS>\r\n</STMTTRNRS>\r\n</BANKMSGSRSV1>\r\n</OFX>\r\n"
).encode("cp1252")
OFX_SGML_FR_OPERATIONS = {"30021234567": [-80.32, 2450.0, -1337.42], "30029876543": [200.0]}

# A US bank's OFX 2.x (XML): date-times with a zone, a credit-card statement, and a
# purchase and its foreign-transaction fee sharing one FITID (Chase does this).
OFX_XML_US = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX>
  <SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
    <DTSERVER>20261101083000.000[-5:EST]</DTSERVER><LANGUAGE>ENG</LANGUAGE>
    <FI><ORG>B1</ORG><FID>10898</FID></FI></SONRS></SIGNONMSGSRSV1>
  <CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1</TRNUID>
    <STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
    <CCSTMTRS><CURDEF>USD</CURDEF><CCACCTFROM><ACCTID>4111111111111111</ACCTID></CCACCTFROM>
      <BANKTRANLIST><DTSTART>20261001</DTSTART><DTEND>20261031</DTEND>
        <STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20261004000000.000[-5:EST]</DTPOSTED>
          <TRNAMT>-42.10</TRNAMT><FITID>2026100424692160</FITID><NAME>CAFE DE FLORE PARIS</NAME></STMTTRN>
        <STMTTRN><TRNTYPE>FEE</TRNTYPE><DTPOSTED>20261004000000.000[-5:EST]</DTPOSTED>
          <TRNAMT>-1.26</TRNAMT><FITID>2026100424692160</FITID><NAME>FOREIGN TRANSACTION FEE</NAME></STMTTRN>
        <STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20261020120000.000[-5:EST]</DTPOSTED>
          <TRNAMT>+500.00</TRNAMT><FITID>2026102011111</FITID><NAME>PAYMENT THANK YOU</NAME></STMTTRN>
      </BANKTRANLIST>
      <LEDGERBAL><BALAMT>-1043.36</BALAMT><DTASOF>20261031</DTASOF></LEDGERBAL>
    </CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>
</OFX>
"""
OFX_XML_US_OPERATIONS = [-42.10, -1.26, 500.0]

# Quicken's QFX: OFX 1.x with Intuit's proprietary tags.
QFX = (
    b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
    b"COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
    b"<DTSERVER>20261101<LANGUAGE>ENG<FI><ORG>WF<FID>3000</FI><INTU.BID>3000<INTU.USERID>jdoe"
    b"</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS><TRNUID>0<STATUS><CODE>0<SEVERITY>INFO"
    b"</STATUS><STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>9876543210"
    b"<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>20261001<DTEND>20261031"
    b"<STMTTRN><TRNTYPE>CHECK<DTPOSTED>20261008<TRNAMT>-120.00<FITID>CHK1042<CHECKNUM>1042"
    b"<NAME>CHECK 1042</STMTTRN>"
    b"<STMTTRN><TRNTYPE>DIRECTDEP<DTPOSTED>20261015<TRNAMT>1800.00<FITID>DD20261015"
    b"<NAME>ACME PAYROLL</STMTTRN>"
    b"</BANKTRANLIST><LEDGERBAL><BALAMT>4321.00<DTASOF>20261031</LEDGERBAL></STMTRS>"
    b"</STMTTRNRS></BANKMSGSRSV1></OFX>\n"
)
QFX_OPERATIONS = [-120.0, 1800.0]

# CAMT.053.001.02, ISO-8859-1, two statements for two accounts; one entry is a batch of two
# transfers, one is pending, one has no reference of the bank (only an EndToEndId).
CAMT053 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-20261031</MsgId><CreDtTm>2026-10-31T20:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-1</Id><CreDtTm>2026-10-31T20:00:00</CreDtTm>
   <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy><Nm>Compte joint</Nm>
    <Svcr><FinInstnId><BIC>AGRIFRPP</BIC><Nm>Crédit Agricole</Nm></FinInstnId></Svcr></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-01</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1265.50</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-31</Dt></Dt></Bal>
   <Ntry><Amt Ccy="EUR">34.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-10-07</Dt></BookgDt><ValDt><Dt>2026-10-06</Dt></ValDt>
    <AcctSvcrRef>CA-20261007-0001</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>CCRD</Cd><SubFmlyCd>POSD</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
     <RltdPties><Cdtr><Nm>Boulangerie Pâtisserie</Nm></Cdtr></RltdPties>
     <RmtInf><Ustrd>CB 06/10 PAIN</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="EUR">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-10-15</Dt></BookgDt><ValDt><Dt>2026-10-15</Dt></ValDt>
    <AcctSvcrRef>CA-20261015-0002</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
     <TxDtls><Refs><EndToEndId>E2E-A</EndToEndId></Refs><RltdPties><Dbtr><Nm>Caisse d'Allocations</Nm></Dbtr></RltdPties>
      <RmtInf><Ustrd>ALLOCATIONS OCTOBRE</Ustrd></RmtInf></TxDtls>
     <TxDtls><Refs><EndToEndId>E2E-B</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>
   <Ntry><Amt Ccy="EUR">12.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts>
    <BookgDt><Dt>2026-10-31</Dt></BookgDt>
    <BkTxCd><Prtry><Cd>FEES</Cd></Prtry></BkTxCd>
    <NtryDtls><TxDtls><Refs><EndToEndId>FEE-2026-10</EndToEndId></Refs></TxDtls></NtryDtls>
    <AddtlNtryInf>COTISATION CARTE</AddtlNtryInf></Ntry>
  </Stmt>
  <Stmt>
   <Id>STMT-2</Id><CreDtTm>2026-10-31T20:00:00</CreDtTm>
   <Acct><Id><Othr><Id>LIVRET-A-778899</Id></Othr></Id><Ccy>EUR</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">7700.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-10-31</Dt></Dt></Bal>
   <Ntry><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-10-20</Dt></BookgDt><NtryRef>LA-1</NtryRef>
    <BkTxCd><Prtry><Cd>XFER</Cd></Prtry></BkTxCd><AddtlNtryInf>VIREMENT INTERNE</AddtlNtryInf></Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
""".encode("iso-8859-1")
CAMT053_OPERATIONS = {
    "FR7630006000011234567890189": [-34.5, 300.0, -12.0],
    "LIVRET-A-778899": [100.0],
}

# A QIF register written day-first (a European Quicken), with a split and a transfer.
QIF = b"""!Account
NCompte Courant QIF
TBank
^
!Type:Bank
D25/10/2026
T-45.90
PSNCF
MBillet Nantes Paris
^
D03/10/2026
T1,200.00
PVirement salaire
LSalaire
^
D03/10/2026
T-30.00
PRetrait DAB
SAlimentation
$-20.00
SLoisirs
$-10.00
^
"""
QIF_OPERATIONS = [-45.9, 1200.0, -30.0]

# A French bank's CSV export: Windows-1252, a preamble, `;`, day-first dates, decimal
# commas with a space as thousands separator, and debits printed positive in their column.
CSV_FR = (
    "Compte courant n° 00012345678;;;\r\n"
    "Période du 01/10/2026 au 31/10/2026;;;\r\n"
    "\r\n"
    "Date;Libellé;Débit euros;Crédit euros;Date de valeur\r\n"
    "02/10/2026;PRLV SEPA EDF;64,20;;02/10/2026\r\n"
    "05/10/2026;VIR SALAIRE;;2 845,10;05/10/2026\r\n"
    "11/10/2026;CB MONOPRIX 10/10;23,05;;11/10/2026\r\n"
    "11/10/2026;CB MONOPRIX 10/10;23,05;;11/10/2026\r\n"
    "28/10/2026;CHEQUE 0000123;1 200,00;;28/10/2026\r\n"
).encode("cp1252")
CSV_FR_OPERATIONS = [-64.2, 2845.1, -23.05, -23.05, -1200.0]
CSV_FR_MAPPING = {
    "columns": {
        "date": "Date",
        "label": "Libellé",
        "debit": "Débit euros",
        "credit": "Crédit euros",
        "valueDate": "Date de valeur",
    },
    "delimiter": ";",
    "decimalComma": True,
    "dayFirst": True,
    "account": {"number": "00012345678", "label": "Compte courant", "institution": "Ma banque"},
}

# Malformed: an OFX cut short in the middle of its second operation.
OFX_TRUNCATED = OFX_SGML_FR[: OFX_SGML_FR.index(b"<TRNAMT>2450")]
# Malformed: a CSV whose third line has "12,3,4" for an amount.
CSV_BAD_AMOUNT = "Date;Libellé;Montant\n01/10/2026;A;-1,00\n02/10/2026;B;12,3,4\n".encode()


# A year of a busy account: OFX 2.x with `count` transactions, each its own FITID, labels
# drawn from the merchants people really see (the categoriser knows some, not all).
BIG_OFX_LABELS = (
    "CB CARREFOUR MARKET",
    "PRLV SEPA FREE MOBILE",
    "CB BOULANGERIE DU COIN",
    "VIR SALAIRE ACME",
    "CB SNCF INTERNET",
    "CB LA FOURNEE DOREE",
    "PRLV EDF CLIENTS",
    "CB PHARMACIE DU CENTRE",
)


def big_ofx(count: int) -> bytes:
    """An OFX 2.x statement of `count` operations on one checking account."""
    lines = []
    for i in range(count):
        day = f"2026{1 + i % 12:02d}{1 + i % 28:02d}"
        amount = f"{-(1 + i % 250)}.{i % 100:02d}" if i % 9 else f"{1500 + i % 300}.00"
        label = BIG_OFX_LABELS[i % len(BIG_OFX_LABELS)]
        lines.append(
            f"<STMTTRN><TRNTYPE>{'DEBIT' if i % 9 else 'CREDIT'}</TRNTYPE>"
            f"<DTPOSTED>{day}</DTPOSTED><TRNAMT>{amount}</TRNAMT>"
            f"<FITID>BIG{i:08d}</FITID><NAME>{label} {i % 97}</NAME></STMTTRN>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" '
        'NEWFILEUID="NONE"?>\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE>'
        "<SEVERITY>INFO</SEVERITY></STATUS><DTSERVER>20261231120000</DTSERVER>"
        "<LANGUAGE>FRA</LANGUAGE></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS>"
        "<TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        "<STMTRS><CURDEF>EUR</CURDEF><BANKACCTFROM><BANKID>30004</BANKID>"
        "<BRANCHID>00001</BRANCHID><ACCTID>00099887766</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE>"
        "</BANKACCTFROM><BANKTRANLIST><DTSTART>20260101</DTSTART><DTEND>20261231</DTEND>\n"
        + "\n".join(lines)
        + "\n</BANKTRANLIST><LEDGERBAL><BALAMT>1234.56</BALAMT><DTASOF>20261231</DTASOF>"
        "</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    ).encode()
