/*
 * CmpClient - a small CMP client on Bouncy Castle's CMP/CRMF API, the
 * second, independent client of the cmpca end-to-end tests (the first is
 * `openssl cmp`). Written against the Bouncy Castle that Debian 12 ships
 * (1.72: /usr/share/java/bcprov.jar, bcpkix.jar, bcutil.jar); JDK 17.
 *
 *   javac -d build/bc -cp /usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar tests/bc/CmpClient.java
 *   java -cp build/bc:<the three jars> CmpClient <command> [options]
 *   (tests/bc/cmpclient does both)
 *
 * Commands:
 *   ir, cr      enrolment, one CertReqMsg per --key/--newkey (certReqId 0..n-1)
 *   ccr         cross-certification request (RFC 9810 §5.3.11): one
 *               CertReqMsg for --key/--subject (the CA to certify), signed
 *               with --prot-key/--prot-cert (the requesting CA); --no-pop
 *               leaves the proof of possession out (negative tests)
 *   kur         key update: new key(s), oldCertID control, signature
 *               protection with --old-cert/--old-key unless given otherwise
 *   p10cr       PKCS#10 request (--csr FILE, or built from --key/--subject)
 *   rr          revocation of --old-cert (--reason N)
 *   krr         key recovery (RFC 9810 §5.3.8) of --old-cert's archived key:
 *               the krp's status and, per keyPairHist entry i, cert[i] and
 *               key[i] (opened as for --central-keygen, below)
 *   genm        general message (--infotype caCerts|rootCaCert|
 *               certReqTemplate|crlStatusList|signKeyPairTypes|
 *               suppLangTags|currentCRL|OID, repeatable)
 *               rootCaCert carries --old-root FILE when given (see
 *               "Root CA key update" below)
 *   certconf    a certConf for an earlier transaction (--txid, --recip-nonce,
 *               --cert FILE [--cert-req-id N] repeated)
 *   error       an error message for an earlier transaction (same options)
 *   pollreq     a pollReq for an earlier transaction (--txid, --recip-nonce,
 *               --cert-req-id N repeated, default 0), answered once
 *   nested      several requests forwarded by an RA in one nested message:
 *               nested [common options] --inner CMD [options] --inner CMD ...
 *               Each --inner starts one inner request (CMD is ir, cr, kur,
 *               p10cr, rr, genm, certconf or error) whose options are the
 *               common ones followed by its own (later ones win; list
 *               options add up). Inner i writes its files with the prefix
 *               "<i>-" unless it has its own --prefix.
 *
 * Nested (RFC 9810 §5.1.3.4, RFC 9483 §5.2.2): with `nested`, or with
 *   --nested-ra-cert on any other command (one inner request), each inner
 *   request is built exactly as it would be sent alone (its own PBM or
 *   signature protection, transactionID and nonces) and the inner messages
 *   travel as PKIMessages in the body of an outer message (type nested)
 *   signed by the RA:
 *   --nested-ra-cert F --nested-ra-key F [--nested-ra-chain F]   the RA's
 *       certificate and key: sender = its subject, senderKID = its SKI, it
 *       is first in extraCerts (then the chain); fresh transactionID and
 *       senderNonce for every outer message
 *   --confirm-direct       only the first message goes nested; the follow-ups
 *       (certConf, error, pollReq) are sent directly by each end entity
 *       (default: nested again through the RA, in one new outer message)
 *   Output: the outer answer's line (body=nested ... inner=<count>, its
 *   signature checked with --ca-cert), then one line per inner answer,
 *   matched to its request by transactionID (else by position), with
 *   nested=1, its own protection checked (MAC with that end entity's
 *   secret, or signature) and txid_ok/nonce_ok against the inner request.
 *   Outer messages are saved as nested-req-<n>.der/nested-rsp-<n>.der, the
 *   inner ones as <prefix>req-<n>.der/<prefix>rsp-<n>.der.
 *
 * Transport: --url URL (HTTP POST, Content-Type application/pkixcmp).
 *
 * Protection (default PBM, RFC 4211 §4.4):
 *   --ref REF              senderKID: the enrollment secret's reference
 *   --secret-env NAME      the secret is read from this environment variable
 *                          (never from the command line)
 *   --owf sha1|sha224|sha256|sha384|sha512   PBM one-way function (sha256)
 *   --mac hmac-sha1|hmac-sha224|hmac-sha256|hmac-sha384|hmac-sha512 (hmac-sha256)
 *   --iter N               PBM or PBKDF2 iterationCount (1000); values below
 *                          100 are sent as given (for negative tests)
 *   --salt-len N           salt length in bytes (16)
 *   --pbmac1               PBMAC1 (RFC 9481 §6.1.3): PBKDF2 with --mac's PRF
 *                          and the same HMAC as messageAuthScheme
 *   --prot-key F --prot-cert F [--prot-chain F]   signature protection
 *   --unprotected          no protection at all
 *
 * Header: --pvno 2|3 (2), --recipient DN | --ca-cert PEM (recipient and the
 *   certificate that verifies signature-protected responses), --sender DN
 *   (default: the first subject), --implicit-confirm. DNs are OpenSSL style
 *   "/O=x/CN=y" or RFC 4514 "CN=y,O=x".
 *
 * Central key generation (RFC 9483 §4.1.6): --central-keygen SPEC
 *   (repeatable, one CertReqMsg each, after the --key/--newkey ones):
 *   ec:P-256, ec:P-384 or rsa (publicKey naming only the algorithm, an
 *   empty subjectPublicKey) or none (no publicKey at all); never a POP.
 *   The privateKey of each answer is opened: EnvelopedData to the
 *   secret (PasswordRecipientInfo) or to --prot-key (key transport or key
 *   agreement), then a SignedData whose signature must verify with
 *   --ca-cert's key and whose content is an AsymmetricKeyPackage; the key
 *   must match the issued certificate (a signature by it verifies with the
 *   certificate's key). The line then says
 *   key[<certReqId>]=<path of genkey-<id>.pem>|error:<reason>, with
 *   recip[<id>]=pwri|ktri|kari, recip_alg[<id>]=<keyEncryptionAlgorithm
 *   OID> and kga_signer[<id>]=ok|bad.
 * Requests: --key FILE (PEM private key; repeatable, one CertReqMsg each)
 *   or --newkey ec:P-256|ec:P-384|rsa:2048|ed25519 (repeatable; the key is
 *   written to --out-dir as key-<certReqId>.pem), --subject DN (repeatable;
 *   the i-th subject goes with the i-th key, the last one is reused),
 *   --san DNS-NAME (repeatable, added to every request).
 *
 * Confirmation after ip/cp/kup:
 *   --confirm all|none|empty|ID,ID...   accept all issued certificates
 *       (default), send no certConf at all, send an empty certConf, or accept
 *       only the listed certReqIds (the others are left out of the certConf)
 *   --reject ID,ID...      list these certReqIds as rejected in the certConf
 *   --send-error           send an error message instead of the certConf
 *   --failinfo NAME        failInfo bit of that error message (none)
 *   --cert-hash-alg sha256|sha384|sha512   put hashAlg in each CertStatus
 *       (CMP v3) and hash with it; default: the certificate's signature digest
 *
 * Output (stdout): one line per response, for example
 *   body=ip pvno=2 protected=1 mac=ok http=200 txid=<hex> txid_ok=1 nonce_ok=1
 *       snonce=<hex> implicitConfirm=0 status[0]=0 failinfo[0]=- cert[0]=<path>
 *       failinfo=- caPubs=1 extraCerts=1
 *   body=error ... status=2 failinfo=badMessageCheck text="..."
 *   body=genp ... itav[0]=1.3.6.1.5.5.7.4.17:value itav[1]=<oid>:absent
 *   body=rp ... status[0]=0 failinfo[0]=-
 *   body=pollRep ... checkAfter[<certReqId>]=<seconds>
 * mac=ok|bad|none (none: no MAC; signature protection gives sig=ok|bad|unverified).
 * Root CA key update (RFC 9810 §4.4, §5.3.19.15): with --old-root FILE (the
 * root the client holds) a rootCaKeyUpdate value is parsed with Bouncy
 * Castle's RootCaKeyUpdateContent and checked on its own: newWithOld
 * verifies with the old root's key and names it as issuer, newWithNew is
 * self-signed, both carry the same new key, and oldWithNew (if present)
 * certifies the old root's key and verifies with the new key. The genp
 * line then says rootCaKeyUpdate=verified (or invalid:<reason>), and
 * --out-dir receives newwithnew.pem (the new root), newwithold.pem and
 * oldwithnew.pem.
 * --out-dir DIR receives cert-<certReqId>.pem (cert-p10.pem for p10cr; with
 * --prefix P: P-cert-...), cacerts.pem (the caCerts value of a genp),
 * and with --save-msgs the DER messages req-<n>.der and rsp-<n>.der.
 * Polling: a "waiting" status (ip/cp/kup or error) is followed by pollReq
 * until the answer is final or --poll-max seconds (30) have passed.
 *
 * Exit status: 0 when the exchange ran as requested (whatever the server
 * answered: the caller judges the answer); 1 transport or parse error;
 * 2 usage or local error.
 *
 * Bouncy Castle 1.72 notes: ProtectedPKIMessageBuilder(int pvno, ...) sets
 * pvno 3 (PKIHeader.CMP_2021). PKMACBuilder.setIterationCount() refuses
 * counts below 100 but setParameters(PBMParameter) does not, which is how
 * the client sends small counts. 1.72 has JcePBMac1CalculatorBuilder, but it
 * labels the keyDerivationFunc with id-PBES2 (1.2.840.113549.1.5.13)
 * instead of id-PBKDF2 (.12), so PBMAC1 is built here (Pbmac1 below) from
 * PBKDF2Params/PBMAC1Params and the lightweight PBKDF2 and HMAC classes.
 */

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Security;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1InputStream;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.ASN1BitString;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.cmp.CMPCertificate;
import org.bouncycastle.asn1.cmp.CMPObjectIdentifiers;
import org.bouncycastle.asn1.cmp.CertConfirmContent;
import org.bouncycastle.asn1.cmp.CertRepMessage;
import org.bouncycastle.asn1.cmp.CertResponse;
import org.bouncycastle.asn1.cmp.CertStatus;
import org.bouncycastle.asn1.cmp.CertifiedKeyPair;
import org.bouncycastle.asn1.cmp.ErrorMsgContent;
import org.bouncycastle.asn1.cmp.GenMsgContent;
import org.bouncycastle.asn1.cmp.GenRepContent;
import org.bouncycastle.asn1.cmp.InfoTypeAndValue;
import org.bouncycastle.asn1.cmp.KeyRecRepContent;
import org.bouncycastle.asn1.cmp.PBMParameter;
import org.bouncycastle.asn1.cmp.PKIBody;
import org.bouncycastle.asn1.cmp.PKIConfirmContent;
import org.bouncycastle.asn1.cmp.PKIFailureInfo;
import org.bouncycastle.asn1.cmp.PKIFreeText;
import org.bouncycastle.asn1.cmp.PKIHeader;
import org.bouncycastle.asn1.cmp.PKIHeaderBuilder;
import org.bouncycastle.asn1.cmp.PKIMessage;
import org.bouncycastle.asn1.cmp.PKIMessages;
import org.bouncycastle.asn1.cmp.PKIStatus;
import org.bouncycastle.asn1.cmp.PKIStatusInfo;
import org.bouncycastle.asn1.cmp.PollRepContent;
import org.bouncycastle.asn1.cmp.PollReqContent;
import org.bouncycastle.asn1.cmp.ProtectedPart;
import org.bouncycastle.asn1.cmp.RevDetails;
import org.bouncycastle.asn1.cmp.RevRepContent;
import org.bouncycastle.asn1.cmp.RevReqContent;
import org.bouncycastle.asn1.crmf.CertId;
import org.bouncycastle.asn1.crmf.CertReqMessages;
import org.bouncycastle.asn1.crmf.CertReqMsg;
import org.bouncycastle.asn1.crmf.CertTemplateBuilder;
import org.bouncycastle.asn1.iana.IANAObjectIdentifiers;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.oiw.OIWObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.CertificationRequest;
import org.bouncycastle.asn1.pkcs.PBKDF2Params;
import org.bouncycastle.asn1.pkcs.PBMAC1Params;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.CRLReason;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.cmp.CertificateConfirmationContent;
import org.bouncycastle.cert.cmp.CertificateConfirmationContentBuilder;
import org.bouncycastle.cert.cmp.GeneralPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessage;
import org.bouncycastle.cert.cmp.ProtectedPKIMessageBuilder;
import org.bouncycastle.cert.crmf.CertificateRequestMessageBuilder;
import org.bouncycastle.cert.crmf.Control;
import org.bouncycastle.cert.crmf.PKMACBuilder;
import org.bouncycastle.cert.crmf.jcajce.JcePKMACValuesCalculator;
import org.bouncycastle.cert.jcajce.JcaX509ContentVerifierProviderBuilder;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.util.DigestFactory;
import org.bouncycastle.jcajce.interfaces.EdDSAPrivateKey;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.asn1.cms.CMSObjectIdentifiers;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.cms.EnvelopedData;
import org.bouncycastle.asn1.crmf.EncryptedKey;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.KeyAgreeRecipientInformation;
import org.bouncycastle.cms.KeyTransRecipientInformation;
import org.bouncycastle.cms.PasswordRecipient;
import org.bouncycastle.cms.PasswordRecipientInformation;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.cms.jcajce.JceKeyAgreeEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JcePasswordEnvelopedRecipient;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.DefaultDigestAlgorithmIdentifierFinder;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.GenericKey;
import org.bouncycastle.operator.MacCalculator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.bouncycastle.util.Arrays;
import org.bouncycastle.util.encoders.Hex;

public final class CmpClient {
	private static final SecureRandom RNG = new SecureRandom();

	private static final String[] FAIL_NAMES = {
		"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
		"badDataFormat", "wrongAuthority", "incorrectData",
		"missingTimeStamp", "badPOP", "certRevoked", "certConfirmed",
		"wrongIntegrity", "badRecipientNonce", "timeNotAvailable",
		"unacceptedPolicy", "unacceptedExtension", "addInfoNotAvailable",
		"badSenderNonce", "badCertTemplate", "signerNotTrusted",
		"transactionIdInUse", "unsupportedVersion", "notAuthorized",
		"systemUnavail", "systemFailure", "duplicateCertReq",
	};

	private static final String[] BODY_NAMES = {
		"ir", "ip", "cr", "cp", "p10cr", "popdecc", "popdecr", "kur",
		"kup", "krr", "krp", "rr", "rp", "ccr", "ccp", "ckuann", "cann",
		"rann", "crlann", "pkiconf", "nested", "genm", "genp", "error",
		"certConf", "pollReq", "pollRep",
	};

	/** Usage or local problem: exit 2. */
	static final class UsageException extends Exception {
		private static final long serialVersionUID = 1L;
		UsageException(String m) { super(m); }
	}

	/** Transport or parse problem: exit 1. */
	static final class TransportException extends Exception {
		private static final long serialVersionUID = 1L;
		TransportException(String m) { super(m); }
		TransportException(String m, Throwable c) { super(m, c); }
	}

	// ---- options -------------------------------------------------------
	private String cmd;
	private String url;
	private String ref;
	private String secretEnv;
	private char[] secret;
	private int pvno = PKIHeader.CMP_2000;
	private X500Name recipient;
	private X500Name sender;
	private X509CertificateHolder caCert;
	private final List<String> keyFiles = new ArrayList<>();
	private final List<String> newKeys = new ArrayList<>();
	private final List<String> kgaSpecs = new ArrayList<>();
	private final List<String> subjects = new ArrayList<>();
	private final List<String> sans = new ArrayList<>();
	private boolean implicitConfirm;
	private String confirm = "all";
	private final Set<Integer> rejectIds = new LinkedHashSet<>();
	private boolean sendError;
	private int errorFailInfo = -1;
	private String certHashAlg;
	private String owf = "sha256";
	private String mac = "hmac-sha256";
	private int iter = 1000;
	private int saltLen = 16;
	private boolean pbmac1;
	private boolean unprotected;
	private String protKeyFile;
	private String protCertFile;
	private final List<String> protChainFiles = new ArrayList<>();
	private String oldCertFile;
	private String oldKeyFile;
	private String oldRootFile;
	private String csrFile;
	private int reason = -1;
	private String invalidityDate; // rr: GeneralizedTime, e.g. 20261101000000Z
	private final List<String> infoTypes = new ArrayList<>();
	private String txidHex;
	private String recipNonceHex;
	private final List<String> certFiles = new ArrayList<>();
	private final List<Integer> certReqIdOpts = new ArrayList<>();
	private Path outDir;
	private String prefix = "";
	private boolean saveMsgs;
	private int timeoutMs = 15000;
	private int pollMax = 30;
	private boolean verbose;
	private String nestedRaCertFile;
	private String nestedRaKeyFile;
	private final List<String> nestedRaChainFiles = new ArrayList<>();
	private boolean confirmDirect;
	private boolean noPop;
	private boolean prefixSet;
	/** The command line (single-request nested mode re-parses it for the inner client). */
	private String[] rawArgs;
	/** nested: one argument vector per --inner (CMD, global options, its options). */
	private final List<String[]> innerSpecs = new ArrayList<>();
	/** This client's messages travel inside a nested message: nested=1 on its lines. */
	private boolean nestedInner;
	/** Number under which the pending inner request was saved (--save-msgs). */
	private int innerSaveN = -1;

	// ---- state ---------------------------------------------------------
	private byte[] txid;
	private byte[] lastSenderNonce;
	private int msgCount;
	private PrivateKey protKey;
	private X509CertificateHolder protCert;
	private final List<X509CertificateHolder> protChain = new ArrayList<>();

	public static void main(String[] args) {
		Security.addProvider(new BouncyCastleProvider());
		CmpClient c = new CmpClient();
		int rc;
		try {
			c.parse(args);
			c.run();
			rc = 0;
		} catch (UsageException e) {
			System.err.println("cmpclient: " + e.getMessage());
			rc = 2;
		} catch (TransportException e) {
			System.err.println("cmpclient: " + e.getMessage() +
			    (e.getCause() != null ? ": " + e.getCause() : ""));
			rc = 1;
		} catch (Exception e) {
			System.err.println("cmpclient: " + e);
			if (c.verbose)
				e.printStackTrace();
			rc = 2;
		}
		System.out.flush();
		System.exit(rc);
	}

	// ---- command line --------------------------------------------------

	private static int intArg(String o, String v) throws UsageException {
		try {
			return Integer.parseInt(v);
		} catch (NumberFormatException e) {
			throw new UsageException(o + ": not a number: " + v);
		}
	}

	private void parse(String[] a) throws Exception {
		if (a.length == 0)
			throw new UsageException("usage: CmpClient ir|cr|kur|p10cr|rr|genm|certconf|error|pollreq|nested [options] (see the source header)");
		rawArgs = a.clone();
		cmd = a[0];
		int end = a.length;
		if (cmd.equals("nested")) {
			// nested [global options] --inner CMD [options] --inner CMD ...
			for (int i = 1; i < a.length; i++)
				if (a[i].equals("--inner")) {
					end = i;
					break;
				}
			for (int i = end; i < a.length; ) {
				if (i + 1 >= a.length)
					throw new UsageException("--inner needs a command");
				int j = i + 2;
				while (j < a.length && !a[j].equals("--inner"))
					j++;
				List<String> v = new ArrayList<>();
				v.add(a[i + 1]);
				for (int k = 1; k < end; k++)
					v.add(a[k]);
				for (int k = i + 2; k < j; k++)
					v.add(a[k]);
				innerSpecs.add(v.toArray(new String[0]));
				i = j;
			}
		}
		for (int i = 1; i < end; i++) {
			String o = a[i];
			boolean flag = true;
			switch (o) {
			case "--implicit-confirm": implicitConfirm = true; break;
			case "--send-error": sendError = true; break;
			case "--pbmac1": pbmac1 = true; break;
			case "--unprotected": unprotected = true; break;
			case "--save-msgs": saveMsgs = true; break;
			case "--confirm-direct": confirmDirect = true; break;
			case "--no-pop": noPop = true; break;
			case "--verbose": case "-v": verbose = true; break;
			default: flag = false;
			}
			if (flag)
				continue;
			if (i + 1 >= end)
				throw new UsageException("unknown option or missing value: " + o);
			String v = a[++i];
			switch (o) {
			case "--url": url = v; break;
			case "--ref": ref = v; break;
			case "--secret-env": secretEnv = v; break;
			case "--pvno": pvno = intArg(o, v); break;
			case "--recipient": recipient = parseName(v); break;
			case "--sender": sender = parseName(v); break;
			case "--ca-cert": caCert = readCert(v); break;
			case "--key": keyFiles.add(v); break;
			case "--newkey": newKeys.add(v); break;
			case "--central-keygen": kgaSpecs.add(v); break;
			case "--subject": subjects.add(v); break;
			case "--san": sans.add(v); break;
			case "--confirm": confirm = v; break;
			case "--reject":
				for (String s : v.split(","))
					if (!s.isEmpty())
						rejectIds.add(intArg(o, s));
				break;
			case "--failinfo": errorFailInfo = failBit(v); break;
			case "--cert-hash-alg": certHashAlg = v; break;
			case "--owf": owf = v; break;
			case "--mac": mac = v; break;
			case "--iter": iter = intArg(o, v); break;
			case "--salt-len": saltLen = intArg(o, v); break;
			case "--prot-key": protKeyFile = v; break;
			case "--prot-cert": protCertFile = v; break;
			case "--prot-chain": protChainFiles.add(v); break;
			case "--old-cert": oldCertFile = v; break;
			case "--old-key": oldKeyFile = v; break;
			case "--old-root": oldRootFile = v; break;
			case "--csr": csrFile = v; break;
			case "--reason": reason = intArg(o, v); break;
			case "--invalidity-date": invalidityDate = v; break;
			case "--infotype": infoTypes.add(v); break;
			case "--txid": txidHex = v; break;
			case "--recip-nonce": recipNonceHex = v; break;
			case "--cert": certFiles.add(v); break;
			case "--cert-req-id": certReqIdOpts.add(intArg(o, v)); break;
			case "--out-dir": outDir = Paths.get(v); break;
			case "--prefix": prefix = v; prefixSet = true; break;
			case "--nested-ra-cert": nestedRaCertFile = v; break;
			case "--nested-ra-key": nestedRaKeyFile = v; break;
			case "--nested-ra-chain": nestedRaChainFiles.add(v); break;
			case "--timeout": timeoutMs = intArg(o, v) * 1000; break;
			case "--poll-max": pollMax = intArg(o, v); break;
			default: throw new UsageException("unknown option: " + o);
			}
		}
		if (url == null)
			throw new UsageException("--url is required");
		if (pvno != 2 && pvno != 3)
			verbose("note: sending pvno " + pvno);
		if (outDir != null)
			Files.createDirectories(outDir);
	}

	private void verbose(String s) {
		if (verbose)
			System.err.println("cmpclient: " + s);
	}

	// ---- names, keys, certificates --------------------------------------

	/** "/O=x/CN=y" (OpenSSL, most significant first) or "CN=y,O=x" (RFC 4514). */
	static X500Name parseName(String s) throws UsageException {
		try {
			if (s.isEmpty() || s.equals("/"))
				return X500Name.getInstance(new DERSequence());
			if (s.startsWith("/")) {
				X500NameBuilder b = new X500NameBuilder(BCStyle.INSTANCE);
				List<String> parts = new ArrayList<>();
				StringBuilder cur = new StringBuilder();
				for (int i = 1; i < s.length(); i++) {
					char c = s.charAt(i);
					if (c == '\\' && i + 1 < s.length()) {
						cur.append(s.charAt(++i));
					} else if (c == '/') {
						parts.add(cur.toString());
						cur.setLength(0);
					} else {
						cur.append(c);
					}
				}
				parts.add(cur.toString());
				for (String p : parts) {
					int eq = p.indexOf('=');
					if (eq <= 0)
						throw new UsageException("bad name component: " + p);
					b.addRDN(BCStyle.INSTANCE.attrNameToOID(p.substring(0, eq).trim()),
					    p.substring(eq + 1));
				}
				return b.build();
			}
			// RFC 4514 lists the most significant RDN last; BC keeps the
			// order of the string, so reverse it.
			RDN[] r = new X500Name(BCStyle.INSTANCE, s).getRDNs();
			RDN[] rev = new RDN[r.length];
			for (int i = 0; i < r.length; i++)
				rev[i] = r[r.length - 1 - i];
			return new X500Name(BCStyle.INSTANCE, rev);
		} catch (IllegalArgumentException e) {
			throw new UsageException("bad name \"" + s + "\": " + e.getMessage());
		}
	}

	static Object readPem(String file) throws Exception {
		try (Reader r = Files.newBufferedReader(Paths.get(file), StandardCharsets.US_ASCII);
		    PEMParser p = new PEMParser(r)) {
			Object o = p.readObject();
			if (o == null)
				throw new UsageException(file + ": no PEM object");
			return o;
		}
	}

	static X509CertificateHolder readCert(String file) throws Exception {
		Object o = readPem(file);
		if (!(o instanceof X509CertificateHolder))
			throw new UsageException(file + ": not a certificate");
		return (X509CertificateHolder) o;
	}

	static KeyPair readKeyPair(String file) throws Exception {
		Object o = readPem(file);
		JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider("BC");
		if (o instanceof PEMKeyPair)
			return conv.getKeyPair((PEMKeyPair) o);
		if (!(o instanceof PrivateKeyInfo))
			throw new UsageException(file + ": not an unencrypted private key");
		PrivateKeyInfo pki = (PrivateKeyInfo) o;
		PrivateKey priv = conv.getPrivateKey(pki);
		PublicKey pub;
		if (priv instanceof RSAPrivateCrtKey) {
			RSAPrivateCrtKey k = (RSAPrivateCrtKey) priv;
			pub = KeyFactory.getInstance("RSA", "BC").generatePublic(
			    new RSAPublicKeySpec(k.getModulus(), k.getPublicExponent()));
		} else if (priv instanceof EdDSAPrivateKey) {
			pub = ((EdDSAPrivateKey) priv).getPublicKey();
		} else if (priv instanceof org.bouncycastle.jce.interfaces.ECPrivateKey) {
			org.bouncycastle.jce.interfaces.ECPrivateKey k =
			    (org.bouncycastle.jce.interfaces.ECPrivateKey) priv;
			org.bouncycastle.jce.spec.ECParameterSpec sp = k.getParameters();
			pub = KeyFactory.getInstance("EC", "BC").generatePublic(
			    new org.bouncycastle.jce.spec.ECPublicKeySpec(
			    sp.getG().multiply(k.getD()).normalize(), sp));
		} else {
			throw new UsageException(file + ": unsupported key type " + priv.getAlgorithm());
		}
		return new KeyPair(pub, priv);
	}

	static KeyPair generateKey(String spec) throws Exception {
		String s = spec.toLowerCase(Locale.ROOT);
		KeyPairGenerator g;
		if (s.startsWith("ec:")) {
			g = KeyPairGenerator.getInstance("EC", "BC");
			g.initialize(new ECGenParameterSpec(spec.substring(3)), RNG);
		} else if (s.startsWith("rsa:")) {
			g = KeyPairGenerator.getInstance("RSA", "BC");
			g.initialize(new RSAKeyGenParameterSpec(intArg("--newkey", s.substring(4)),
			    RSAKeyGenParameterSpec.F4), RNG);
		} else if (s.equals("ed25519") || s.equals("ed448")) {
			g = KeyPairGenerator.getInstance(s.equals("ed25519") ? "Ed25519" : "Ed448", "BC");
		} else {
			throw new UsageException("--newkey: ec:CURVE, rsa:BITS, ed25519 or ed448");
		}
		return g.generateKeyPair();
	}

	static String sigAlgFor(PrivateKey k) {
		String a = k.getAlgorithm();
		if (a.equals("RSA"))
			return "SHA256withRSA";
		if (a.equals("Ed25519") || a.equals("Ed448") || a.equals("EdDSA"))
			return a.equals("EdDSA") ? "Ed25519" : a;
		if (k instanceof org.bouncycastle.jce.interfaces.ECPrivateKey) {
			int bits = ((org.bouncycastle.jce.interfaces.ECPrivateKey) k)
			    .getParameters().getN().bitLength();
			return bits > 384 ? "SHA512withECDSA" : bits > 256 ? "SHA384withECDSA" : "SHA256withECDSA";
		}
		return "SHA256withECDSA";
	}

	static ContentSigner signer(PrivateKey k) throws Exception {
		return new JcaContentSignerBuilder(sigAlgFor(k)).setProvider("BC").build(k);
	}

	private Path write(String name, String pem) throws IOException {
		Path p = outDir.resolve(prefix + name);
		Files.write(p, pem.getBytes(StandardCharsets.US_ASCII));
		return p;
	}

	static String toPem(Object o) throws IOException {
		StringWriter sw = new StringWriter();
		try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
			w.writeObject(o);
		}
		return sw.toString();
	}

	// ---- algorithm names -----------------------------------------------

	static AlgorithmIdentifier digestAlg(String n) throws UsageException {
		switch (n.toLowerCase(Locale.ROOT).replace("-", "")) {
		case "sha1": return new AlgorithmIdentifier(OIWObjectIdentifiers.idSHA1);
		case "sha224": return new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha224);
		case "sha256": return new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha256);
		case "sha384": return new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha384);
		case "sha512": return new AlgorithmIdentifier(NISTObjectIdentifiers.id_sha512);
		default: throw new UsageException("unknown digest: " + n);
		}
	}

	/** PBM mac: hmac-sha1 is the IANA OID of RFC 4211/RFC 9481, the others PKCS#5's. */
	static AlgorithmIdentifier hmacAlg(String n) throws UsageException {
		switch (n.toLowerCase(Locale.ROOT)) {
		case "hmac-sha1": return new AlgorithmIdentifier(IANAObjectIdentifiers.hmacSHA1, DERNull.INSTANCE);
		case "hmac-sha224": return new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA224, DERNull.INSTANCE);
		case "hmac-sha256": return new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA256, DERNull.INSTANCE);
		case "hmac-sha384": return new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA384, DERNull.INSTANCE);
		case "hmac-sha512": return new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA512, DERNull.INSTANCE);
		default: throw new UsageException("unknown mac: " + n);
		}
	}

	static Digest hmacDigest(ASN1ObjectIdentifier oid) throws UsageException {
		if (oid.equals(IANAObjectIdentifiers.hmacSHA1) || oid.equals(PKCSObjectIdentifiers.id_hmacWithSHA1))
			return DigestFactory.createSHA1();
		if (oid.equals(PKCSObjectIdentifiers.id_hmacWithSHA224))
			return DigestFactory.createSHA224();
		if (oid.equals(PKCSObjectIdentifiers.id_hmacWithSHA256))
			return DigestFactory.createSHA256();
		if (oid.equals(PKCSObjectIdentifiers.id_hmacWithSHA384))
			return DigestFactory.createSHA384();
		if (oid.equals(PKCSObjectIdentifiers.id_hmacWithSHA512))
			return DigestFactory.createSHA512();
		throw new UsageException("unsupported HMAC " + oid);
	}

	static int failBit(String name) throws UsageException {
		for (int i = 0; i < FAIL_NAMES.length; i++)
			if (FAIL_NAMES[i].equalsIgnoreCase(name))
				return i;
		throw new UsageException("unknown failInfo name: " + name);
	}

	static String failNames(ASN1BitString b) {
		if (b == null)
			return "-";
		byte[] bytes = b.getBytes();
		StringBuilder s = new StringBuilder();
		for (int i = 0; i < bytes.length * 8; i++)
			if ((bytes[i / 8] & (0x80 >> (i % 8))) != 0) {
				if (s.length() > 0)
					s.append(',');
				s.append(i < FAIL_NAMES.length ? FAIL_NAMES[i] : "bit" + i);
			}
		return s.length() == 0 ? "-" : s.toString();
	}

	/** A PKIFailureInfo with bit n set (DER named-bit-list encoding). */
	static PKIFailureInfo failInfo(int bit) {
		byte[] b = new byte[bit / 8 + 1];
		b[bit / 8] = (byte) (0x80 >> (bit % 8));
		return new PKIFailureInfo(new DERBitString(b, 7 - bit % 8));
	}

	// ---- PBMAC1 (RFC 9481 §6.1.3, RFC 8018 §7.1) -------------------------

	/** PBMAC1 with PBKDF2: the key is PBKDF2(secret, salt, iter, prf), the MAC is HMAC. */
	static final class Pbmac1 implements MacCalculator {
		private final AlgorithmIdentifier algId;
		private final HMac hmac;
		private final byte[] key;
		private final ByteArrayOutputStream data = new ByteArrayOutputStream();

		Pbmac1(AlgorithmIdentifier algId, char[] secret) throws UsageException {
			if (!PKCSObjectIdentifiers.id_PBMAC1.equals(algId.getAlgorithm()))
				throw new UsageException("not PBMAC1: " + algId.getAlgorithm());
			PBMAC1Params p = PBMAC1Params.getInstance(algId.getParameters());
			AlgorithmIdentifier kdf = p.getKeyDerivationFunc();
			if (!PKCSObjectIdentifiers.id_PBKDF2.equals(kdf.getAlgorithm()))
				throw new UsageException("PBMAC1 keyDerivationFunc is not PBKDF2: " + kdf.getAlgorithm());
			PBKDF2Params kp = PBKDF2Params.getInstance(kdf.getParameters());
			AlgorithmIdentifier prf = kp.getPrf() != null ? kp.getPrf()
			    : new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA1, DERNull.INSTANCE);
			Digest macDigest = hmacDigest(p.getMessageAuthScheme().getAlgorithm());
			int keyLen = kp.getKeyLength() != null ? kp.getKeyLength().intValue()
			    : macDigest.getDigestSize();
			PKCS5S2ParametersGenerator g = new PKCS5S2ParametersGenerator(hmacDigest(prf.getAlgorithm()));
			g.init(new String(secret).getBytes(StandardCharsets.UTF_8), kp.getSalt(),
			    kp.getIterationCount().intValue());
			this.key = ((KeyParameter) g.generateDerivedMacParameters(keyLen * 8)).getKey();
			this.hmac = new HMac(macDigest);
			this.hmac.init(new KeyParameter(key));
			this.algId = algId;
		}

		static AlgorithmIdentifier params(String macName, int iter, int saltLen) throws UsageException {
			byte[] salt = new byte[saltLen];
			RNG.nextBytes(salt);
			AlgorithmIdentifier m = hmacAlg(macName);
			if (m.getAlgorithm().equals(IANAObjectIdentifiers.hmacSHA1))
				m = new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA1, DERNull.INSTANCE);
			int keyLen = hmacDigest(m.getAlgorithm()).getDigestSize();
			PBKDF2Params kp = new PBKDF2Params(salt, iter, keyLen, m);
			return new AlgorithmIdentifier(PKCSObjectIdentifiers.id_PBMAC1, new PBMAC1Params(
			    new AlgorithmIdentifier(PKCSObjectIdentifiers.id_PBKDF2, kp), m));
		}

		public AlgorithmIdentifier getAlgorithmIdentifier() { return algId; }
		public OutputStream getOutputStream() { return data; }
		public byte[] getMac() {
			byte[] d = data.toByteArray();
			hmac.reset();
			hmac.update(d, 0, d.length);
			byte[] out = new byte[hmac.getMacSize()];
			hmac.doFinal(out, 0);
			return out;
		}
		public GenericKey getKey() { return new GenericKey(algId, key); }
	}

	// ---- protection ------------------------------------------------------

	private char[] secret() throws UsageException {
		if (secret == null) {
			if (secretEnv == null)
				throw new UsageException("MAC protection needs --secret-env NAME");
			String s = System.getenv(secretEnv);
			if (s == null)
				throw new UsageException("environment variable " + secretEnv + " is not set");
			secret = s.toCharArray();
		}
		return secret;
	}

	private MacCalculator macCalculator() throws Exception {
		if (pbmac1)
			return new Pbmac1(Pbmac1.params(mac, iter, saltLen), secret());
		byte[] salt = new byte[saltLen];
		RNG.nextBytes(salt);
		// setParameters, not setIterationCount: the latter refuses < 100.
		PKMACBuilder b = new PKMACBuilder(new JcePKMACValuesCalculator().setProvider("BC"));
		b.setParameters(new PBMParameter(salt, digestAlg(owf), iter, hmacAlg(mac)));
		return b.build(secret());
	}

	private boolean signatureProtection() {
		return protKey != null;
	}

	private void loadProtection() throws Exception {
		String kf = protKeyFile, cf = protCertFile;
		if (kf == null && cf == null && ref == null && (cmd.equals("kur") || cmd.equals("rr"))) {
			kf = oldKeyFile;
			cf = oldCertFile;
		}
		if (kf != null || cf != null) {
			if (kf == null || cf == null)
				throw new UsageException("signature protection needs a key and a certificate");
			protKey = readKeyPair(kf).getPrivate();
			protCert = readCert(cf);
			for (String f : protChainFiles)
				protChain.add(readCert(f));
		} else if (!unprotected && ref == null) {
			throw new UsageException("--ref and --secret-env (MAC), --prot-key/--prot-cert (signature) or --unprotected");
		}
	}

	/** mac=ok|bad|none, and for a signature sig=ok|bad|unverified. */
	private String checkProtection(PKIMessage m) {
		AlgorithmIdentifier alg = m.getHeader().getProtectionAlg();
		if (m.getProtection() == null || alg == null)
			return "mac=none";
		ASN1ObjectIdentifier oid = alg.getAlgorithm();
		try {
			if (oid.equals(CMPObjectIdentifiers.passwordBasedMac)) {
				if (secretEnv == null)
					return "mac=unverified";
				ProtectedPKIMessage pm = new ProtectedPKIMessage(new GeneralPKIMessage(m));
				PKMACBuilder b = new PKMACBuilder(new JcePKMACValuesCalculator().setProvider("BC"), 10_000_000);
				return pm.verify(b, secret()) ? "mac=ok" : "mac=bad";
			}
			if (oid.equals(PKCSObjectIdentifiers.id_PBMAC1)) {
				if (secretEnv == null)
					return "mac=unverified";
				Pbmac1 c = new Pbmac1(alg, secret());
				try (OutputStream o = c.getOutputStream()) {
					o.write(new ProtectedPart(m.getHeader(), m.getBody()).getEncoded("DER"));
				}
				return Arrays.constantTimeAreEqual(c.getMac(), m.getProtection().getOctets())
				    ? "mac=ok" : "mac=bad";
			}
			// Signature: verify with --ca-cert, else with the first extraCert.
			X509CertificateHolder v = caCert;
			if (v == null && m.getExtraCerts() != null && m.getExtraCerts().length > 0)
				v = new X509CertificateHolder(m.getExtraCerts()[0].getX509v3PKCert());
			if (v == null)
				return "mac=none sig=unverified";
			ContentVerifierProvider vp = new JcaX509ContentVerifierProviderBuilder().setProvider("BC").build(v);
			ProtectedPKIMessage pm = new ProtectedPKIMessage(new GeneralPKIMessage(m));
			return pm.verify(vp) ? "mac=none sig=ok" : "mac=none sig=bad";
		} catch (Exception e) {
			verbose("protection check: " + e);
			return "mac=bad";
		}
	}

	// ---- messages --------------------------------------------------------

	private X500Name senderName() throws Exception {
		if (sender != null)
			return sender;
		if (signatureProtection())
			return protCert.getSubject();
		if (!subjects.isEmpty())
			return parseName(subjects.get(0));
		if (!certFiles.isEmpty())
			return readCert(certFiles.get(0)).getSubject();
		if (oldCertFile != null)
			return readCert(oldCertFile).getSubject();
		return X500Name.getInstance(new DERSequence());
	}

	private X500Name recipientName() {
		if (recipient != null)
			return recipient;
		if (caCert != null)
			return caCert.getSubject();
		return X500Name.getInstance(new DERSequence());
	}

	private PKIMessage build(PKIBody body, byte[] recipNonce, boolean withImplicitConfirm) throws Exception {
		byte[] nonce = new byte[16];
		RNG.nextBytes(nonce);
		lastSenderNonce = nonce;
		GeneralName snd = new GeneralName(senderName());
		GeneralName rcp = new GeneralName(recipientName());
		InfoTypeAndValue ic = new InfoTypeAndValue(CMPObjectIdentifiers.it_implicitConfirm, DERNull.INSTANCE);
		if (unprotected) {
			PKIHeaderBuilder h = new PKIHeaderBuilder(pvno, snd, rcp);
			h.setTransactionID(txid).setSenderNonce(nonce)
			    .setMessageTime(new org.bouncycastle.asn1.ASN1GeneralizedTime(new Date()));
			if (ref != null)
				h.setSenderKID(ref.getBytes(StandardCharsets.UTF_8));
			if (recipNonce != null)
				h.setRecipNonce(recipNonce);
			if (withImplicitConfirm)
				h.setGeneralInfo(ic);
			return new PKIMessage(h.build(), body);
		}
		ProtectedPKIMessageBuilder b = new ProtectedPKIMessageBuilder(pvno, snd, rcp);
		b.setTransactionID(txid).setSenderNonce(nonce).setMessageTime(new Date()).setBody(body);
		if (recipNonce != null)
			b.setRecipNonce(recipNonce);
		if (withImplicitConfirm)
			b.addGeneralInfo(ic);
		if (signatureProtection()) {
			Extension ski = protCert.getExtension(Extension.subjectKeyIdentifier);
			if (ski != null)
				b.setSenderKID(SubjectKeyIdentifier.getInstance(ski.getParsedValue()).getKeyIdentifier());
			b.addCMPCertificate(protCert);
			for (X509CertificateHolder c : protChain)
				b.addCMPCertificate(c);
			return b.build(signer(protKey)).toASN1Structure();
		}
		b.setSenderKID(ref.getBytes(StandardCharsets.UTF_8));
		return b.build(macCalculator()).toASN1Structure();
	}

	static String bodyName(int t) {
		return t >= 0 && t < BODY_NAMES.length ? BODY_NAMES[t] : "body" + t;
	}

	private static final class Reply {
		PKIMessage msg;
		int http;
	}

	/** One HTTP round trip. */
	private Reply exchange(PKIMessage req) throws Exception {
		return exchange(req, "");
	}

	/** One HTTP round trip; tag goes before req-N.der/rsp-N.der ("nested-" for outer messages). */
	private Reply exchange(PKIMessage req, String tag) throws Exception {
		byte[] der = req.getEncoded("DER");
		int n = msgCount++;
		if (saveMsgs && outDir != null)
			Files.write(outDir.resolve(prefix + tag + "req-" + n + ".der"), der);
		verbose("sending " + bodyName(req.getBody().getType()) + " (" + der.length + " bytes) to " + url);
		HttpURLConnection c;
		byte[] rsp;
		int code;
		String ct;
		try {
			c = (HttpURLConnection) new URL(url).openConnection();
			c.setRequestMethod("POST");
			c.setDoOutput(true);
			c.setUseCaches(false);
			c.setConnectTimeout(timeoutMs);
			c.setReadTimeout(timeoutMs);
			c.setRequestProperty("Content-Type", "application/pkixcmp");
			c.setRequestProperty("Cache-Control", "no-cache");
			c.setFixedLengthStreamingMode(der.length);
			try (OutputStream o = c.getOutputStream()) {
				o.write(der);
			}
			code = c.getResponseCode();
			ct = c.getContentType();
			InputStream in = code >= 400 ? c.getErrorStream() : c.getInputStream();
			rsp = in == null ? new byte[0] : in.readAllBytes();
			if (in != null)
				in.close();
			c.disconnect();
		} catch (IOException e) {
			throw new TransportException("HTTP exchange with " + url + " failed", e);
		}
		if (saveMsgs && outDir != null)
			Files.write(outDir.resolve(prefix + tag + "rsp-" + n + ".der"), rsp);
		String base = ct == null ? "" : ct.split(";")[0].trim().toLowerCase(Locale.ROOT);
		if (!base.equals("application/pkixcmp") && !base.equals("application/x-pkixcmp")) {
			String text = new String(rsp, 0, Math.min(rsp.length, 200), StandardCharsets.ISO_8859_1).trim();
			throw new TransportException("HTTP " + code + ", content type " + ct + ": " + text);
		}
		Reply r = new Reply();
		r.http = code;
		try (ASN1InputStream ai = new ASN1InputStream(rsp)) {
			ASN1Primitive p = ai.readObject();
			if (p == null || ai.readObject() != null)
				throw new TransportException("response is not exactly one DER object");
			r.msg = PKIMessage.getInstance(p);
			r.msg.getBody().getType(); // forces the parse
		} catch (TransportException e) {
			throw e;
		} catch (Exception e) {
			throw new TransportException("undecodable response (HTTP " + code + ")", e);
		}
		return r;
	}

	static boolean hasImplicitConfirm(PKIHeader h) {
		InfoTypeAndValue[] gi = h.getGeneralInfo();
		if (gi != null)
			for (InfoTypeAndValue i : gi)
				if (CMPObjectIdentifiers.it_implicitConfirm.equals(i.getInfoType()))
					return true;
		return false;
	}

	static String quote(PKIFreeText t) {
		if (t == null)
			return "";
		StringBuilder s = new StringBuilder();
		for (int i = 0; i < t.size(); i++)
			s.append(" text=\"").append(t.getStringAtUTF8(i).getString()
			    .replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
		return s.toString();
	}

	/** Issued certificates of the last ip/cp/kup, by certReqId. */
	private final Map<Integer, X509CertificateHolder> issued = new LinkedHashMap<>();
	private final List<Integer> waiting = new ArrayList<>();

	/** Prints the summary line, writes certificates, fills issued/waiting. */
	private void report(Reply r, byte[] sentNonce) throws Exception {
		PKIMessage m = r.msg;
		PKIHeader h = m.getHeader();
		int type = m.getBody().getType();
		StringBuilder s = new StringBuilder();
		s.append("body=").append(bodyName(type));
		s.append(" pvno=").append(h.getPvno().getValue());
		s.append(" protected=").append(m.getProtection() != null ? 1 : 0);
		s.append(' ').append(checkProtection(m));
		s.append(" http=").append(r.http);
		byte[] rt = h.getTransactionID() == null ? null : h.getTransactionID().getOctets();
		byte[] rn = h.getRecipNonce() == null ? null : h.getRecipNonce().getOctets();
		s.append(" txid=").append(rt == null ? "-" : Hex.toHexString(rt));
		s.append(" txid_ok=").append(Arrays.areEqual(rt, txid) ? 1 : 0);
		s.append(" nonce_ok=").append(Arrays.areEqual(rn, sentNonce) ? 1 : 0);
		s.append(" snonce=").append(h.getSenderNonce() == null ? "-"
		    : Hex.toHexString(h.getSenderNonce().getOctets()));
		s.append(" implicitConfirm=").append(hasImplicitConfirm(h) ? 1 : 0);
		if (nestedInner)
			s.append(" nested=1");
		ASN1Encodable c = m.getBody().getContent();
		issued.clear();
		waiting.clear();
		switch (type) {
		case PKIBody.TYPE_INIT_REP:
		case PKIBody.TYPE_CERT_REP:
		case PKIBody.TYPE_KEY_UPDATE_REP:
		case PKIBody.TYPE_CROSS_CERT_REP: {
			CertRepMessage rep = CertRepMessage.getInstance(c);
			StringBuilder all = new StringBuilder();
			for (CertResponse cr : rep.getResponse()) {
				int id = cr.getCertReqId().intValueExact();
				PKIStatusInfo si = cr.getStatus();
				int st = si.getStatus().intValue();
				String fi = failNames(si.getFailInfo());
				s.append(" status[").append(id).append("]=").append(st);
				s.append(" failinfo[").append(id).append("]=").append(fi);
				if (!fi.equals("-"))
					all.append(all.length() > 0 ? "," : "").append(fi);
				if (st == PKIStatus.WAITING)
					waiting.add(id);
				CertifiedKeyPair kp = cr.getCertifiedKeyPair();
				if (kp != null && kp.getCertOrEncCert().getCertificate() != null) {
					CMPCertificate cc = kp.getCertOrEncCert().getCertificate();
					X509CertificateHolder ch = new X509CertificateHolder(cc.getX509v3PKCert());
					issued.put(id, ch);
					if (outDir != null) {
						Path p = write("cert-" + (id < 0 ? "p10" : String.valueOf(id)) + ".pem", toPem(ch));
						s.append(" cert[").append(id).append("]=").append(p);
					} else {
						s.append(" cert[").append(id).append("]=-");
					}
				} else if (kp != null) {
					s.append(" cert[").append(id).append("]=encrypted");
				}
				if (kp != null && kp.getPrivateKey() != null)
					s.append(openGeneratedKey(id, kp.getPrivateKey(), issued.get(id)));
				if (si.getStatusString() != null)
					s.append(quote(si.getStatusString()));
			}
			s.append(" failinfo=").append(all.length() == 0 ? "-" : all);
			s.append(" caPubs=").append(rep.getCaPubs() == null ? 0 : rep.getCaPubs().length);
			if (outDir != null && rep.getCaPubs() != null && rep.getCaPubs().length > 0) {
				StringBuilder pem = new StringBuilder();
				for (CMPCertificate cc : rep.getCaPubs())
					pem.append(toPem(new X509CertificateHolder(cc.getX509v3PKCert())));
				write("capubs.pem", pem.toString());
			}
			break;
		}
		case PKIBody.TYPE_ERROR: {
			ErrorMsgContent e = ErrorMsgContent.getInstance(c);
			PKIStatusInfo si = e.getPKIStatusInfo();
			s.append(" status=").append(si.getStatus());
			s.append(" failinfo=").append(failNames(si.getFailInfo()));
			if (si.getStatus().intValue() == PKIStatus.WAITING)
				waiting.add(-1);
			if (e.getErrorCode() != null)
				s.append(" errorCode=").append(e.getErrorCode().getValue());
			s.append(quote(si.getStatusString()));
			s.append(quote(e.getErrorDetails()));
			break;
		}
		case PKIBody.TYPE_KEY_RECOVERY_REP: {
			// krp: status, then each CertifiedKeyPair of keyPairHist
			// as certificate and key (opened as for central keygen).
			KeyRecRepContent kr = KeyRecRepContent.getInstance(c);
			PKIStatusInfo si = kr.getStatus();
			String fi = failNames(si.getFailInfo());
			s.append(" status[0]=").append(si.getStatus()).append(" failinfo[0]=").append(fi);
			s.append(" failinfo=").append(fi);
			CertifiedKeyPair[] hist = kr.getKeyPairHist();
			s.append(" keys=").append(hist == null ? 0 : hist.length);
			for (int i = 0; hist != null && i < hist.length; i++) {
				X509CertificateHolder ch = null;
				if (hist[i].getCertOrEncCert().getCertificate() != null) {
					ch = new X509CertificateHolder(hist[i].getCertOrEncCert().getCertificate().getX509v3PKCert());
					if (outDir != null)
						s.append(" cert[").append(i).append("]=").append(write("cert-" + i + ".pem", toPem(ch)));
				}
				if (hist[i].getPrivateKey() != null)
					s.append(openGeneratedKey(i, hist[i].getPrivateKey(), ch));
			}
			s.append(quote(si.getStatusString()));
			break;
		}
		case PKIBody.TYPE_REVOCATION_REP: {
			RevRepContent rp = RevRepContent.getInstance(c);
			PKIStatusInfo[] st = rp.getStatus();
			for (int i = 0; i < st.length; i++) {
				s.append(" status[").append(i).append("]=").append(st[i].getStatus())
				    .append(" failinfo[").append(i).append("]=").append(failNames(st[i].getFailInfo()))
				    .append(quote(st[i].getStatusString()));
				// Delayed revocation (RFC 9810 §5.3.22): poll with -1.
				if (st[i].getStatus().intValue() == PKIStatus.WAITING && !waiting.contains(-1))
					waiting.add(-1);
			}
			break;
		}
		case PKIBody.TYPE_GEN_REP: {
			InfoTypeAndValue[] iv = GenRepContent.getInstance(c).toInfoTypeAndValueArray();
			for (int i = 0; i < iv.length; i++) {
				ASN1Encodable v = iv[i].getInfoValue();
				s.append(" itav[").append(i).append("]=").append(iv[i].getInfoType().getId())
				    .append(v == null ? ":absent" : ":value");
				// caCerts (RFC 9483 §4.3.1): SEQUENCE OF CMPCertificate.
				if (v != null && outDir != null
				    && CMPObjectIdentifiers.id_it_caCerts.equals(iv[i].getInfoType())) {
					StringBuilder pem = new StringBuilder();
					for (ASN1Encodable e : ASN1Sequence.getInstance(v))
						pem.append(toPem(new X509CertificateHolder(
						    CMPCertificate.getInstance(e).getX509v3PKCert())));
					write("cacerts.pem", pem.toString());
				}
				if (v != null && oldRootFile != null
				    && CMPObjectIdentifiers.id_it_rootCaKeyUpdate.equals(iv[i].getInfoType()))
					s.append(" rootCaKeyUpdate=").append(checkRootUpdate(v));
			}
			break;
		}
		case PKIBody.TYPE_POLL_REP: {
			PollRepContent pr = PollRepContent.getInstance(c);
			for (int i = 0; i < pr.size(); i++) {
				int id = pr.getCertReqId(i).intValueExact();
				s.append(" checkAfter[").append(id).append("]=").append(pr.getCheckAfter(i).getValue());
				waiting.add(id);
			}
			break;
		}
		case PKIBody.TYPE_NESTED:
			s.append(" inner=").append(PKIMessages.getInstance(c).toPKIMessageArray().length);
			break;
		default:
			break;
		}
		s.append(" extraCerts=").append(m.getExtraCerts() == null ? 0 : m.getExtraCerts().length);
		System.out.println(s);
		System.out.flush();
	}

	/** Sends msg, prints the reply; returns it. */
	private Reply send(PKIMessage msg) throws Exception {
		byte[] sent = lastSenderNonce;
		Reply r = exchange(msg);
		report(r, sent);
		return r;
	}

	/** Polls while the answer is "waiting" or pollRep. */
	private Reply pollIfWaiting(Reply r) throws Exception {
		long deadline = System.currentTimeMillis() + pollMax * 1000L;
		while (!waiting.isEmpty()) {
			int t = r.msg.getBody().getType();
			long sleep = 1000;
			if (t == PKIBody.TYPE_POLL_REP) {
				PollRepContent pr = PollRepContent.getInstance(r.msg.getBody().getContent());
				sleep = pr.size() > 0 ? pr.getCheckAfter(0).getValue().longValue() * 1000 : 1000;
			}
			if (System.currentTimeMillis() + sleep > deadline) {
				verbose("polling gave up after " + pollMax + " s");
				return r;
			}
			Thread.sleep(Math.max(0, sleep));
			BigInteger[] ids = new BigInteger[waiting.size()];
			for (int i = 0; i < ids.length; i++)
				ids[i] = BigInteger.valueOf(waiting.get(i));
			PKIBody pb = new PKIBody(PKIBody.TYPE_POLL_REQ, new PollReqContent(ids));
			r = send(build(pb, r.msg.getHeader().getSenderNonce().getOctets(), false));
		}
		return r;
	}

	// ---- request bodies --------------------------------------------------

	private void addSans(CertificateRequestMessageBuilder b) throws Exception {
		if (sans.isEmpty())
			return;
		GeneralName[] g = new GeneralName[sans.size()];
		for (int i = 0; i < g.length; i++)
			g[i] = new GeneralName(GeneralName.dNSName, sans.get(i));
		b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(g));
	}

	private List<KeyPair> requestKeys() throws Exception {
		List<KeyPair> keys = new ArrayList<>();
		for (String f : keyFiles)
			keys.add(readKeyPair(f));
		for (String spec : newKeys) {
			KeyPair kp = generateKey(spec);
			if (outDir != null)
				write("key-" + keys.size() + ".pem", toPem(kp.getPrivate()));
			keys.add(kp);
		}
		return keys;
	}

	private PKIBody certReqBody(int type) throws Exception {
		List<KeyPair> keys = requestKeys();
		X509CertificateHolder old = oldCertFile != null ? readCert(oldCertFile) : null;
		if (keys.isEmpty() && kgaSpecs.isEmpty())
			throw new UsageException(cmd + " needs --key FILE, --newkey SPEC or --central-keygen SPEC");
		if (subjects.isEmpty() && old == null)
			throw new UsageException(cmd + " needs --subject DN");
		CertReqMsg[] msgs = new CertReqMsg[keys.size() + kgaSpecs.size()];
		for (int i = 0; i < msgs.length; i++) {
			KeyPair kp = i < keys.size() ? keys.get(i) : null;
			CertificateRequestMessageBuilder b = new CertificateRequestMessageBuilder(BigInteger.valueOf(i));
			if (kp != null)
				b.setPublicKey(SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded()));
			else if (kgaTemplateKey(kgaSpecs.get(i - keys.size())) != null)
				b.setPublicKey(kgaTemplateKey(kgaSpecs.get(i - keys.size())));
			X500Name subj = subjects.isEmpty() ? old.getSubject()
			    : parseName(subjects.get(Math.min(i, subjects.size() - 1)));
			b.setSubject(subj);
			addSans(b);
			if (type == PKIBody.TYPE_KEY_UPDATE_REQ && old != null) {
				final CertId id = new CertId(new GeneralName(old.getIssuer()), old.getSerialNumber());
				b.addControl(new Control() {
					public ASN1ObjectIdentifier getType() { return CMPObjectIdentifiers.regCtrl_oldCertID; }
					public ASN1Encodable getValue() { return id; }
				});
			}
			if (!noPop && kp != null)
				b.setProofOfPossessionSigningKeySigner(signer(kp.getPrivate()));
			msgs[i] = b.build().toASN1Structure();
		}
		return new PKIBody(type, new CertReqMessages(msgs));
	}

	/** The template's publicKey for central key generation: the algorithm
	 * only (empty subjectPublicKey), or null for "none". */
	static SubjectPublicKeyInfo kgaTemplateKey(String spec) throws UsageException {
		String s = spec.toLowerCase(Locale.ROOT);
		AlgorithmIdentifier a;
		if (s.equals("none"))
			return null;
		if (s.equals("rsa"))
			a = new AlgorithmIdentifier(PKCSObjectIdentifiers.rsaEncryption, DERNull.INSTANCE);
		else if (s.equals("ec:p-256"))
			a = new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, SECObjectIdentifiers.secp256r1);
		else if (s.equals("ec:p-384"))
			a = new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, SECObjectIdentifiers.secp384r1);
		else if (s.equals("ed25519"))
			a = new AlgorithmIdentifier(EdECObjectIdentifiers.id_Ed25519);
		else
			throw new UsageException("--central-keygen: ec:P-256, ec:P-384, rsa, ed25519 or none");
		return new SubjectPublicKeyInfo(a, new byte[0]);
	}

	/**
	 * Opens the privateKey of an answer (RFC 9483 §4.1.6): EnvelopedData
	 * to our secret or protection key, a SignedData by the CA (checked
	 * with --ca-cert), an AsymmetricKeyPackage; the key must match cert.
	 * Returns " key[id]=... recip[id]=... kga_signer[id]=...".
	 */
	private String openGeneratedKey(int id, EncryptedKey ek, X509CertificateHolder cert) {
		String k = " key[" + id + "]=";
		StringBuilder out = new StringBuilder();
		try {
			if (ek.isEncryptedValue())
				return k + "error:encryptedValue";
			EnvelopedData ed = EnvelopedData.getInstance(ek.getValue());
			if (!ed.getEncryptedContentInfo().getContentType().equals(CMSObjectIdentifiers.signedData))
				return k + "error:enveloped-content-not-signedData";
			CMSEnvelopedData env = new CMSEnvelopedData(new ContentInfo(CMSObjectIdentifiers.envelopedData, ed));
			RecipientInformation ri = env.getRecipientInfos().getRecipients().iterator().next();
			out.append(" recip_alg[").append(id).append("]=").append(ri.getKeyEncryptionAlgOID());
			byte[] content;
			if (ri instanceof PasswordRecipientInformation) {
				out.append(" recip[").append(id).append("]=pwri");
				content = ri.getContent(new JcePasswordEnvelopedRecipient(secret())
				    .setPasswordConversionScheme(PasswordRecipient.PKCS5_SCHEME2_UTF8).setProvider("BC"));
			} else if (protKey == null) {
				return k + "error:no-protection-key";
			} else if (ri instanceof KeyTransRecipientInformation) {
				out.append(" recip[").append(id).append("]=ktri");
				content = ri.getContent(new JceKeyTransEnvelopedRecipient(protKey).setProvider("BC"));
			} else if (ri instanceof KeyAgreeRecipientInformation) {
				out.append(" recip[").append(id).append("]=kari");
				content = ri.getContent(new JceKeyAgreeEnvelopedRecipient(protKey).setProvider("BC"));
			} else {
				return k + "error:recipient-type";
			}
			CMSSignedData sd = new CMSSignedData(new ContentInfo(CMSObjectIdentifiers.signedData,
			    ASN1Sequence.getInstance(content)));
			if (!sd.getSignedContentTypeOID().equals("2.16.840.1.101.2.1.2.78.5"))
				return k + "error:eContentType-" + sd.getSignedContentTypeOID() + out;
			SignerInformation si = sd.getSignerInfos().getSigners().iterator().next();
			boolean sigOk = caCert != null && si.verify(new JcaSimpleSignerInfoVerifierBuilder()
			    .setProvider("BC").build(caCert));
			out.append(" kga_signer[").append(id).append("]=").append(sigOk ? "ok" : "bad");
			ASN1Sequence akp = ASN1Sequence.getInstance(sd.getSignedContent().getContent());
			if (akp.size() != 1)
				return k + "error:keys-in-package-" + akp.size() + out;
			PrivateKeyInfo pki = PrivateKeyInfo.getInstance(akp.getObjectAt(0));
			PrivateKey priv = new JcaPEMKeyConverter().setProvider("BC").getPrivateKey(pki);
			if (cert == null)
				return k + "error:no-certificate" + out;
			byte[] probe = "cmpca central key generation".getBytes(StandardCharsets.US_ASCII);
			java.security.Signature sg = java.security.Signature.getInstance(sigAlgFor(priv), "BC");
			sg.initSign(priv);
			sg.update(probe);
			byte[] sig = sg.sign();
			java.security.Signature vf = java.security.Signature.getInstance(sigAlgFor(priv), "BC");
			vf.initVerify(new JcaX509CertificateConverter().setProvider("BC").getCertificate(cert).getPublicKey());
			vf.update(probe);
			if (!vf.verify(sig))
				return k + "error:key-does-not-match-certificate" + out;
			String where = "-";
			if (outDir != null)
				where = write(prefix + "genkey-" + id + ".pem", toPem(new org.bouncycastle.util.io.pem.PemObject(
				    "PRIVATE KEY", pki.getEncoded()))).toString();
			return k + where + out;
		} catch (Exception e) {
			String m = e.getClass().getSimpleName() + ":" + String.valueOf(e.getMessage());
			return k + "error:" + m.replaceAll("\\s+", "_") + out;
		}
	}

	private PKIBody p10Body() throws Exception {
		PKCS10CertificationRequest csr;
		if (csrFile != null) {
			Object o = readPem(csrFile);
			if (!(o instanceof PKCS10CertificationRequest))
				throw new UsageException(csrFile + ": not a PKCS#10 request");
			csr = (PKCS10CertificationRequest) o;
		} else {
			List<KeyPair> keys = requestKeys();
			if (keys.size() != 1 || subjects.isEmpty())
				throw new UsageException("p10cr needs --csr FILE, or one --key/--newkey and --subject");
			KeyPair kp = keys.get(0);
			csr = new JcaPKCS10CertificationRequestBuilder(parseName(subjects.get(0)), kp.getPublic())
			    .build(signer(kp.getPrivate()));
		}
		return new PKIBody(PKIBody.TYPE_P10_CERT_REQ, CertificationRequest.getInstance(csr.toASN1Structure()));
	}

	private PKIBody rrBody() throws Exception {
		if (oldCertFile == null)
			throw new UsageException("rr needs --old-cert FILE");
		X509CertificateHolder old = readCert(oldCertFile);
		CertTemplateBuilder t = new CertTemplateBuilder()
		    .setIssuer(old.getIssuer()).setSerialNumber(new ASN1Integer(old.getSerialNumber()));
		Extensions ext = null;
		List<Extension> exts = new ArrayList<>();
		if (reason >= 0)
			exts.add(new Extension(Extension.reasonCode, false,
			    new DEROctetString(CRLReason.lookup(reason))));
		if (invalidityDate != null)
			exts.add(new Extension(Extension.invalidityDate, false,
			    new DEROctetString(new org.bouncycastle.asn1.DERGeneralizedTime(invalidityDate))));
		if (!exts.isEmpty())
			ext = new Extensions(exts.toArray(new Extension[0]));
		return new PKIBody(PKIBody.TYPE_REVOCATION_REQ,
		    new RevReqContent(ext == null ? new RevDetails(t.build()) : new RevDetails(t.build(), ext)));
	}

	/** krr (RFC 9810 §5.3.8): one CertReqMsg naming --old-cert by issuer and serialNumber, no POP. */
	private PKIBody krrBody() throws Exception {
		if (oldCertFile == null)
			throw new UsageException("krr needs --old-cert FILE (the certificate whose key to recover)");
		X509CertificateHolder old = readCert(oldCertFile);
		org.bouncycastle.asn1.crmf.CertTemplate t = new CertTemplateBuilder()
		    .setIssuer(old.getIssuer()).setSerialNumber(new ASN1Integer(old.getSerialNumber())).build();
		CertReqMsg m = new CertReqMsg(new org.bouncycastle.asn1.crmf.CertRequest(0, t, null), null, null);
		return new PKIBody(PKIBody.TYPE_KEY_RECOVERY_REQ, new CertReqMessages(m));
	}

	static ASN1ObjectIdentifier infoType(String n) {
		switch (n) {
		case "caCerts": return CMPObjectIdentifiers.id_it_caCerts;
		case "rootCaCert": return CMPObjectIdentifiers.id_it_rootCaCert;
		case "certReqTemplate": return CMPObjectIdentifiers.id_it_certReqTemplate;
		case "crlStatusList": return CMPObjectIdentifiers.id_it_crlStatusList;
		case "signKeyPairTypes": return CMPObjectIdentifiers.it_signKeyPairTypes;
		case "suppLangTags": return CMPObjectIdentifiers.it_suppLangTags;
		case "currentCRL": return CMPObjectIdentifiers.it_currentCRL;
		case "implicitConfirm": return CMPObjectIdentifiers.it_implicitConfirm;
		default: return new ASN1ObjectIdentifier(n);
		}
	}

	private static boolean signedBy(X509CertificateHolder c, X509CertificateHolder by) throws Exception {
		return c.isSignatureValid(new JcaX509ContentVerifierProviderBuilder().setProvider("BC").build(by));
	}

	/* RootCaKeyUpdateContent against the old root: "verified" or "invalid:why". */
	private String checkRootUpdate(ASN1Encodable v) throws Exception {
		org.bouncycastle.asn1.cmp.RootCaKeyUpdateContent u =
		    org.bouncycastle.asn1.cmp.RootCaKeyUpdateContent.getInstance(v);
		X509CertificateHolder old = readCert(oldRootFile);
		X509CertificateHolder nwn = new X509CertificateHolder(u.getNewWithNew().getX509v3PKCert());
		if (u.getNewWithOld() == null)
			return "invalid:no-newWithOld";
		X509CertificateHolder nwo = new X509CertificateHolder(u.getNewWithOld().getX509v3PKCert());
		if (outDir != null) {
			write("newwithnew.pem", toPem(nwn));
			write("newwithold.pem", toPem(nwo));
		}
		if (!nwo.getIssuer().equals(old.getSubject()) || !signedBy(nwo, old))
			return "invalid:newWithOld-not-signed-by-old-root";
		if (!nwn.getIssuer().equals(nwn.getSubject()) || !signedBy(nwn, nwn))
			return "invalid:newWithNew-not-self-signed";
		if (!nwn.getSubjectPublicKeyInfo().equals(nwo.getSubjectPublicKeyInfo()))
			return "invalid:new-keys-differ";
		if (nwn.getSubjectPublicKeyInfo().equals(old.getSubjectPublicKeyInfo()))
			return "invalid:key-not-new";
		if (u.getOldWithNew() != null) {
			X509CertificateHolder own = new X509CertificateHolder(u.getOldWithNew().getX509v3PKCert());
			if (outDir != null)
				write("oldwithnew.pem", toPem(own));
			if (!own.getSubjectPublicKeyInfo().equals(old.getSubjectPublicKeyInfo()) || !signedBy(own, nwn))
				return "invalid:oldWithNew";
		}
		return "verified";
	}

	private PKIBody genmBody() throws Exception {
		if (infoTypes.isEmpty())
			infoTypes.add("caCerts");
		InfoTypeAndValue[] iv = new InfoTypeAndValue[infoTypes.size()];
		for (int i = 0; i < iv.length; i++) {
			ASN1ObjectIdentifier t = infoType(infoTypes.get(i));
			// rootCaCert (RFC 9483 §4.3.2): the root the client holds.
			if (oldRootFile != null && CMPObjectIdentifiers.id_it_rootCaCert.equals(t))
				iv[i] = new InfoTypeAndValue(t, new CMPCertificate(
				    readCert(oldRootFile).toASN1Structure()));
			else
				iv[i] = new InfoTypeAndValue(t);
		}
		return new PKIBody(PKIBody.TYPE_GEN_MSG, new GenMsgContent(iv));
	}

	// ---- confirmation ----------------------------------------------------

	private Set<Integer> acceptedIds(Set<Integer> available) throws UsageException {
		Set<Integer> ids = new LinkedHashSet<>();
		if (confirm.equals("all")) {
			ids.addAll(available);
		} else if (!confirm.equals("empty") && !confirm.equals("none")) {
			for (String s : confirm.split(","))
				if (!s.isEmpty())
					ids.add(intArg("--confirm", s));
		}
		ids.removeAll(rejectIds);
		return ids;
	}

	private CertStatus certStatus(X509CertificateHolder cert, int id, PKIStatusInfo si,
	    DigestCalculatorProvider dcp) throws Exception {
		AlgorithmIdentifier h = certHashAlg != null ? digestAlg(certHashAlg)
		    : new DefaultDigestAlgorithmIdentifierFinder().find(cert.getSignatureAlgorithm());
		if (h == null)
			throw new UsageException("no digest for the certificate's signature algorithm; use --cert-hash-alg");
		MessageDigest md = MessageDigest.getInstance(h.getAlgorithm().getId(), "BC");
		byte[] hash = md.digest(cert.getEncoded());
		BigInteger bid = BigInteger.valueOf(id);
		if (certHashAlg != null)
			return new CertStatus(hash, bid, si, h);
		return si == null ? new CertStatus(hash, bid) : new CertStatus(hash, bid, si);
	}

	/** certConf for the certificates in certs (certReqId -> certificate). */
	private PKIBody certConfBody(Map<Integer, X509CertificateHolder> certs) throws Exception {
		DigestCalculatorProvider dcp = new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
		Set<Integer> accept = acceptedIds(certs.keySet());
		List<CertStatus> st = new ArrayList<>();
		if (certHashAlg == null) {
			// Bouncy Castle's own builder for the accepted ones.
			CertificateConfirmationContentBuilder b = new CertificateConfirmationContentBuilder();
			boolean any = false;
			for (Map.Entry<Integer, X509CertificateHolder> e : certs.entrySet())
				if (accept.contains(e.getKey())) {
					b.addAcceptedCertificate(e.getValue(), BigInteger.valueOf(e.getKey()));
					any = true;
				}
			if (any) {
				CertificateConfirmationContent cc = b.build(dcp);
				for (CertStatus s : cc.toASN1Structure().toCertStatusArray())
					st.add(s);
			}
		} else {
			for (Map.Entry<Integer, X509CertificateHolder> e : certs.entrySet())
				if (accept.contains(e.getKey()))
					st.add(certStatus(e.getValue(), e.getKey(), null, dcp));
		}
		for (int id : rejectIds) {
			X509CertificateHolder c = certs.get(id);
			if (c == null)
				throw new UsageException("--reject " + id + ": no certificate with that certReqId");
			PKIStatusInfo si = new PKIStatusInfo(PKIStatus.rejection,
			    new PKIFreeText("rejected by the client"));
			st.add(certStatus(c, id, si, dcp));
		}
		ASN1EncodableVector v = new ASN1EncodableVector();
		for (CertStatus s : st)
			v.add(s);
		return new PKIBody(PKIBody.TYPE_CERT_CONFIRM, CertConfirmContent.getInstance(new DERSequence(v)));
	}

	private PKIBody errorBody() {
		PKIStatusInfo si = errorFailInfo >= 0
		    ? new PKIStatusInfo(PKIStatus.rejection, new PKIFreeText("transaction aborted by the client"),
		        failInfo(errorFailInfo))
		    : new PKIStatusInfo(PKIStatus.rejection, new PKIFreeText("transaction aborted by the client"));
		return new PKIBody(PKIBody.TYPE_ERROR, new ErrorMsgContent(si));
	}

	// ---- commands --------------------------------------------------------

	private void newTransaction() {
		txid = new byte[16];
		RNG.nextBytes(txid);
	}

	private void run() throws Exception {
		if (cmd.equals("nested") || nestedRaCertFile != null) {
			runNested();
			return;
		}
		loadProtection();
		switch (cmd) {
		case "ir": enroll(certReqBody(PKIBody.TYPE_INIT_REQ)); break;
		case "cr": enroll(certReqBody(PKIBody.TYPE_CERT_REQ)); break;
		case "kur": enroll(certReqBody(PKIBody.TYPE_KEY_UPDATE_REQ)); break;
		case "ccr": enroll(certReqBody(PKIBody.TYPE_CROSS_CERT_REQ)); break;
		case "p10cr": enroll(p10Body()); break;
		case "rr":
			newTransaction();
			pollIfWaiting(send(build(rrBody(), null, false)));
			break;
		case "krr":
			newTransaction();
			send(build(krrBody(), null, false));
			break;
		case "genm":
			newTransaction();
			pollIfWaiting(send(build(genmBody(), null, false)));
			break;
		case "certconf":
		case "error":
		case "pollreq":
			continueTransaction();
			break;
		default:
			throw new UsageException("unknown command: " + cmd);
		}
	}

	private void enroll(PKIBody body) throws Exception {
		newTransaction();
		Reply r = send(build(body, null, implicitConfirm));
		r = pollIfWaiting(r);
		int t = r.msg.getBody().getType();
		if (t != PKIBody.TYPE_INIT_REP && t != PKIBody.TYPE_CERT_REP && t != PKIBody.TYPE_KEY_UPDATE_REP
		    && t != PKIBody.TYPE_CROSS_CERT_REP)
			return;
		if (hasImplicitConfirm(r.msg.getHeader()) && implicitConfirm)
			return;
		if (issued.isEmpty() || (confirm.equals("none") && !sendError))
			return;
		byte[] rn = r.msg.getHeader().getSenderNonce() == null ? null
		    : r.msg.getHeader().getSenderNonce().getOctets();
		PKIBody next = sendError ? errorBody() : certConfBody(new LinkedHashMap<>(issued));
		send(build(next, rn, false));
	}

	/** certconf / error for a transaction started by an earlier run. */
	private void continueTransaction() throws Exception {
		send(continueMessage());
	}

	/** The certConf / error message of continueTransaction. */
	private PKIMessage continueMessage() throws Exception {
		if (txidHex == null || recipNonceHex == null)
			throw new UsageException(cmd + " needs --txid HEX and --recip-nonce HEX");
		txid = Hex.decode(txidHex);
		byte[] rn = Hex.decode(recipNonceHex);
		PKIBody body;
		if (cmd.equals("error")) {
			body = errorBody();
		} else if (cmd.equals("pollreq")) {
			BigInteger[] ids = new BigInteger[Math.max(1, certReqIdOpts.size())];
			for (int i = 0; i < ids.length; i++)
				ids[i] = BigInteger.valueOf(i < certReqIdOpts.size() ? certReqIdOpts.get(i) : 0);
			body = new PKIBody(PKIBody.TYPE_POLL_REQ, new PollReqContent(ids));
		} else {
			Map<Integer, X509CertificateHolder> certs = new LinkedHashMap<>();
			for (int i = 0; i < certFiles.size(); i++)
				certs.put(i < certReqIdOpts.size() ? certReqIdOpts.get(i) : i, readCert(certFiles.get(i)));
			body = certConfBody(certs);
		}
		return build(body, rn, false);
	}

	// ---- nested (RFC 9810 §5.1.3.4, RFC 9483 §5.2.2) ------------------------

	/** The first message of this client's transaction (as run() would send it). */
	private PKIMessage firstMessage() throws Exception {
		switch (cmd) {
		case "ir": case "cr": case "kur": {
			int t = cmd.equals("ir") ? PKIBody.TYPE_INIT_REQ
			    : cmd.equals("cr") ? PKIBody.TYPE_CERT_REQ : PKIBody.TYPE_KEY_UPDATE_REQ;
			PKIBody b = certReqBody(t);
			newTransaction();
			return build(b, null, implicitConfirm);
		}
		case "p10cr": {
			PKIBody b = p10Body();
			newTransaction();
			return build(b, null, implicitConfirm);
		}
		case "rr": {
			PKIBody b = rrBody();
			newTransaction();
			return build(b, null, false);
		}
		case "genm":
			newTransaction();
			return build(genmBody(), null, false);
		case "certconf":
		case "error":
			return continueMessage();
		default:
			throw new UsageException("not usable inside nested: " + cmd);
		}
	}

	/**
	 * The message that follows reply r in this client's transaction: a
	 * pollReq while the answer is "waiting", the certConf (or error) after
	 * ip/cp/kup as enroll() would send it; null when the transaction is over.
	 */
	private PKIMessage followUp(Reply r) throws Exception {
		PKIHeader h = r.msg.getHeader();
		byte[] rn = h.getSenderNonce() == null ? null : h.getSenderNonce().getOctets();
		if (!waiting.isEmpty()) {
			BigInteger[] ids = new BigInteger[waiting.size()];
			for (int i = 0; i < ids.length; i++)
				ids[i] = BigInteger.valueOf(waiting.get(i));
			return build(new PKIBody(PKIBody.TYPE_POLL_REQ, new PollReqContent(ids)), rn, false);
		}
		int t = r.msg.getBody().getType();
		if (t != PKIBody.TYPE_INIT_REP && t != PKIBody.TYPE_CERT_REP && t != PKIBody.TYPE_KEY_UPDATE_REP)
			return null;
		if (cmd.equals("certconf") || cmd.equals("error"))
			return null;
		if (hasImplicitConfirm(h) && implicitConfirm)
			return null;
		if (issued.isEmpty() || (confirm.equals("none") && !sendError))
			return null;
		PKIBody next = sendError ? errorBody() : certConfBody(new LinkedHashMap<>(issued));
		return build(next, rn, false);
	}

	/** Milliseconds to wait before polling after r. */
	private static long pollDelay(Reply r) {
		if (r.msg.getBody().getType() == PKIBody.TYPE_POLL_REP) {
			PollRepContent pr = PollRepContent.getInstance(r.msg.getBody().getContent());
			if (pr.size() > 0)
				return Math.max(0, pr.getCheckAfter(0).getValue().longValue() * 1000);
		}
		return 1000;
	}

	private void saveInner(String what, int n, PKIMessage m) throws IOException {
		if (saveMsgs && outDir != null && n >= 0)
			Files.write(outDir.resolve(prefix + what + "-" + n + ".der"), m.getEncoded("DER"));
	}

	/**
	 * nested: the inner clients' messages go out together in one nested
	 * message signed with the RA key (this client's protection); each inner
	 * answer is verified and reported by its own client. Follow-ups
	 * (pollReq, certConf) go nested again, or with --confirm-direct each
	 * client sends its own directly.
	 */
	private void runNested() throws Exception {
		if (nestedRaCertFile == null || nestedRaKeyFile == null)
			throw new UsageException("nested needs --nested-ra-cert FILE and --nested-ra-key FILE"
			    + (cmd.equals("nested") ? " (before the first --inner)" : ""));
		protKey = readKeyPair(nestedRaKeyFile).getPrivate();
		protCert = readCert(nestedRaCertFile);
		protChain.clear();
		for (String f : nestedRaChainFiles)
			protChain.add(readCert(f));
		List<CmpClient> inners = new ArrayList<>();
		if (cmd.equals("nested")) {
			if (innerSpecs.isEmpty())
				throw new UsageException("nested needs --inner CMD [options] (one or more)");
			for (int i = 0; i < innerSpecs.size(); i++) {
				CmpClient in = new CmpClient();
				in.parse(innerSpecs.get(i));
				if (in.cmd.equals("nested"))
					throw new UsageException("--inner nested: nested inside nested");
				if (!in.prefixSet)
					in.prefix = prefix + i + "-";
				inners.add(in);
			}
		} else {
			CmpClient in = new CmpClient();
			in.parse(rawArgs);
			inners.add(in);
		}
		LinkedHashMap<CmpClient, PKIMessage> pending = new LinkedHashMap<>();
		for (CmpClient in : inners) {
			in.nestedRaCertFile = null;
			in.nestedInner = true;
			in.verbose |= verbose;
			in.loadProtection();
			pending.put(in, in.firstMessage());
		}
		long deadline = System.currentTimeMillis() + pollMax * 1000L;
		boolean first = true;
		while (!pending.isEmpty()) {
			Map<CmpClient, Reply> replies;
			if (first || !confirmDirect) {
				replies = sendNested(pending);
			} else {
				replies = new LinkedHashMap<>();
				for (Map.Entry<CmpClient, PKIMessage> e : pending.entrySet()) {
					CmpClient in = e.getKey();
					in.nestedInner = false;
					replies.put(in, in.send(e.getValue()));
				}
			}
			first = false;
			long sleep = -1;
			for (Map.Entry<CmpClient, Reply> e : replies.entrySet())
				if (!e.getKey().waiting.isEmpty())
					sleep = Math.max(sleep, pollDelay(e.getValue()));
			boolean pollGiveUp = false;
			if (sleep >= 0) {
				if (System.currentTimeMillis() + sleep > deadline) {
					verbose("polling gave up after " + pollMax + " s");
					pollGiveUp = true;
				} else {
					Thread.sleep(sleep);
				}
			}
			LinkedHashMap<CmpClient, PKIMessage> next = new LinkedHashMap<>();
			for (Map.Entry<CmpClient, Reply> e : replies.entrySet()) {
				CmpClient in = e.getKey();
				if (pollGiveUp && !in.waiting.isEmpty())
					continue;
				PKIMessage m = in.followUp(e.getValue());
				if (m != null)
					next.put(in, m);
			}
			pending = next;
		}
	}

	/**
	 * Sends the pending inner messages in one nested message (fresh
	 * transactionID and senderNonce, signed by the RA), prints the outer
	 * line, then one line per inner answer (matched by transactionID, else
	 * by position). Returns the inner answers by client; empty when the
	 * answer is not nested.
	 */
	private Map<CmpClient, Reply> sendNested(LinkedHashMap<CmpClient, PKIMessage> pending) throws Exception {
		List<CmpClient> who = new ArrayList<>(pending.keySet());
		PKIMessage[] ms = pending.values().toArray(new PKIMessage[0]);
		for (int i = 0; i < ms.length; i++) {
			CmpClient in = who.get(i);
			in.innerSaveN = in.msgCount++;
			in.saveInner("req", in.innerSaveN, ms[i]);
		}
		newTransaction();
		PKIMessage outer = build(new PKIBody(PKIBody.TYPE_NESTED, new PKIMessages(ms)), null, false);
		byte[] sent = lastSenderNonce;
		Reply r = exchange(outer, "nested-");
		report(r, sent);
		Map<CmpClient, Reply> out = new LinkedHashMap<>();
		if (r.msg.getBody().getType() != PKIBody.TYPE_NESTED)
			return out;
		PKIMessage[] rs = PKIMessages.getInstance(r.msg.getBody().getContent()).toPKIMessageArray();
		boolean[] used = new boolean[who.size()];
		for (int j = 0; j < rs.length; j++) {
			PKIHeader h = rs[j].getHeader();
			byte[] t = h.getTransactionID() == null ? null : h.getTransactionID().getOctets();
			int k = -1;
			for (int i = 0; i < who.size() && k < 0; i++)
				if (!used[i] && t != null && Arrays.areEqual(t, who.get(i).txid))
					k = i;
			if (k < 0 && j < who.size() && !used[j])
				k = j;
			Reply ir = new Reply();
			ir.msg = rs[j];
			ir.http = r.http;
			if (k < 0) {
				// An answer for none of our messages: reported from the RA's view.
				nestedInner = true;
				report(ir, null);
				nestedInner = false;
				continue;
			}
			CmpClient in = who.get(k);
			used[k] = true;
			in.saveInner("rsp", in.innerSaveN, rs[j]);
			in.report(ir, in.lastSenderNonce);
			out.put(in, ir);
		}
		for (int i = 0; i < used.length; i++)
			if (!used[i])
				verbose("no answer for inner message " + i + " in the nested response");
		return out;
	}
}

