/*
 * PathCheck - builds and validates a certification path with Bouncy
 * Castle's PKIX CertPathBuilder (provider "BC", RFC 5280 path processing
 * with name constraints, policies and path length), as an independent
 * validator for the cross-certification tests.
 *
 *   java -cp build/bc:<bc jars> PathCheck --anchor ROOT.pem --target EE.pem
 *        [--cert CA.pem]... [--policy OID]... [--explicit-policy]
 *
 * --cert adds certificates the builder may use (PEM files, each may hold
 * several); the builder finds the path itself. Revocation checking is off
 * (the tests check revocation elsewhere).
 *
 * Prints "path ok length=N" and one "cert[i]=<subject>" line per element,
 * exit 0; or "path failed: <reason>", exit 1; usage errors exit 2.
 *
 *   java ... PathCheck --batch FILE
 *
 * checks many paths in one JVM (the e2e lint of every certificate a suite
 * issued, tests/e2e/lintlib.sh): each line of FILE is "TARGET ANCHOR
 * [CERTS]" (file names without spaces, CERTS a PEM file of untrusted
 * certificates); prints "TARGET: path ok length=N" or "TARGET: path
 * failed: <reason>" per line, exit 0 when every path validates, else 1.
 */

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.FileReader;
import java.io.InputStream;
import java.security.Security;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXCertPathBuilderResult;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.bouncycastle.jce.provider.BouncyCastleProvider;

public final class PathCheck {
	private PathCheck() {
	}

	private static List<X509Certificate> read(CertificateFactory cf, String file) throws Exception {
		List<X509Certificate> out = new ArrayList<>();
		try (InputStream in = new FileInputStream(file)) {
			for (Certificate c : cf.generateCertificates(in))
				out.add((X509Certificate) c);
		}
		if (out.isEmpty())
			throw new IllegalArgumentException(file + ": no certificate");
		return out;
	}

	private static PKIXCertPathBuilderResult build(CertificateFactory cf, String anchor,
	    String target, List<String> certs, Set<String> policies, boolean explicit)
	    throws Exception {
		X509Certificate root = read(cf, anchor).get(0);
		X509Certificate ee = read(cf, target).get(0);
		List<X509Certificate> pool = new ArrayList<>();
		pool.add(ee);
		for (String f : certs)
			pool.addAll(read(cf, f));
		X509CertSelector sel = new X509CertSelector();
		sel.setCertificate(ee);
		PKIXBuilderParameters p = new PKIXBuilderParameters(
		    Collections.singleton(new TrustAnchor(root, null)), sel);
		p.setRevocationEnabled(false);
		p.addCertStore(CertStore.getInstance("Collection",
		    new CollectionCertStoreParameters(pool), "BC"));
		if (!policies.isEmpty())
			p.setInitialPolicies(policies);
		p.setExplicitPolicyRequired(explicit);
		return (PKIXCertPathBuilderResult)
		    CertPathBuilder.getInstance("PKIX", "BC").build(p);
	}

	private static String why(Exception e) {
		if (!(e instanceof CertPathBuilderException))
			return e.toString();
		Throwable c = e;
		StringBuilder why = new StringBuilder(String.valueOf(e.getMessage()));
		while ((c = c.getCause()) != null)
			why.append(": ").append(c.getMessage());
		return why.toString();
	}

	private static int batch(String file) throws Exception {
		Security.addProvider(new BouncyCastleProvider());
		CertificateFactory cf = CertificateFactory.getInstance("X.509", "BC");
		int failed = 0;
		try (BufferedReader in = new BufferedReader(new FileReader(file))) {
			String line;
			while ((line = in.readLine()) != null) {
				String[] w = line.trim().split("\\s+");
				if (w.length < 2)
					continue;
				List<String> certs = new ArrayList<>();
				for (int i = 2; i < w.length; i++)
					certs.add(w[i]);
				try {
					PKIXCertPathBuilderResult r = build(cf, w[1], w[0], certs,
					    Collections.emptySet(), false);
					System.out.println(w[0] + ": path ok length="
					    + r.getCertPath().getCertificates().size());
				} catch (Exception e) {
					failed++;
					System.out.println(w[0] + ": path failed: " + why(e));
				}
			}
		}
		return failed == 0 ? 0 : 1;
	}

	public static void main(String[] args) {
		if (args.length == 2 && args[0].equals("--batch")) {
			try {
				System.exit(batch(args[1]));
			} catch (Exception e) {
				System.out.println("path failed: " + e);
				System.exit(2);
			}
		}
		String anchor = null, target = null;
		List<String> certs = new ArrayList<>();
		Set<String> policies = new HashSet<>();
		boolean explicit = false;
		try {
			for (int i = 0; i < args.length; i++) {
				switch (args[i]) {
				case "--anchor": anchor = args[++i]; break;
				case "--target": target = args[++i]; break;
				case "--cert": certs.add(args[++i]); break;
				case "--policy": policies.add(args[++i]); break;
				case "--explicit-policy": explicit = true; break;
				default: throw new IllegalArgumentException("unknown option " + args[i]);
				}
			}
			if (anchor == null || target == null)
				throw new IllegalArgumentException("--anchor and --target are required");
		} catch (RuntimeException e) {
			System.err.println("usage: PathCheck --anchor ROOT.pem --target EE.pem [--cert F]... "
			    + "[--policy OID]... [--explicit-policy]: " + e.getMessage());
			System.exit(2);
		}
		try {
			Security.addProvider(new BouncyCastleProvider());
			CertificateFactory cf = CertificateFactory.getInstance("X.509", "BC");
			PKIXCertPathBuilderResult r = build(cf, anchor, target, certs, policies,
			    explicit);
			List<? extends Certificate> path = r.getCertPath().getCertificates();
			System.out.println("path ok length=" + path.size());
			for (int i = 0; i < path.size(); i++)
				System.out.println("cert[" + i + "]="
				    + ((X509Certificate) path.get(i)).getSubjectX500Principal().getName());
			System.exit(0);
		} catch (Exception e) {
			System.out.println("path failed: " + why(e));
			System.exit(1);
		}
	}
}
