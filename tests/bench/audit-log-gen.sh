#!/bin/bash
# A synthetic audit log for benchmarks and the report's tests: COUNT records
# shaped like the module's (a certificate with a Vietnamese subject, 50
# people in 10 agencies, 60 tokens, 6 programs; signatures, failures,
# refusals, PIN events), spread evenly over DAYS days from START (epoch
# seconds, UTC; default 2026-01-01, 365 days), on standard output. The chain
# fields are dummies (tests/integration/audit_reseal seals them).
#
#   tests/bench/audit-log-gen.sh COUNT [START [DAYS]] > FILE
set -euo pipefail
n=${1:?usage: audit-log-gen.sh COUNT [START [DAYS]]}
start=${2:-1767225600}
days=${3:-365}
    awk -v n="$n" -v t0="$start" -v days="$days" 'BEGIN {
        srand(20260101);
        split("Nguyễn,Trần,Lê,Phạm,Hoàng,Huỳnh,Phan,Vũ,Võ,Đặng", ho, ",");
        split("Văn,Thị,Hữu,Minh,Thu", dem, ",");
        split("An,Bình,Cường,Dũng,Hà,Hạnh,Hùng,Lan,Mai,Nam", ten, ",");
        split("Chuyên viên,Phó Giám đốc,Giám đốc,Văn thư,Trưởng phòng", title, ",");
        split("Sở Thông tin và Truyền thông Hà Nội,UBND tỉnh Bắc Ninh,Sở Tư pháp Hà Tĩnh,Sở Nội vụ An Giang,Văn phòng UBND tỉnh Phú Thọ,Sở Tài chính Hòa Bình,Sở Y tế Tiền Giang,Sở Giáo dục và Đào tạo Hà Nội,Sở Xây dựng Bắc Ninh,Sở Công Thương Hà Tĩnh", org, ",");
        split("soffice.bin,pkcs11-tool,firefox-esr,vnpt-ca-plugin,pdfsig,java", prog, ",");
        issuer = "CN=Cục Chứng thực số và Bảo mật thông tin,O=Ban Cơ yếu Chính phủ,C=VN";
        zero = "0000000000000000000000000000000000000000000000000000000000000000";
        span = days * 86400;
        for (i = 1; i <= n; i++) {
            p = int(rand() * 50); o = p % 10 + 1;
            name = ho[p % 10 + 1] " " dem[int(p / 10) + 1] " " ten[(p * 7) % 10 + 1];
            tok = sprintf("%016x", 11259375 + (p * 13 + int(rand() * 2)) % 60);
            pr = prog[int(rand() * 6) + 1];
            r = rand();
            ev = "sign"; out = "CKR_OK"; rule = ""; detail = ""; cert = 1;
            if (r < 0.03) { out = "CKR_DEVICE_ERROR"; detail = "card removed" }
            else if (r < 0.06) { ev = "refusal"; out = "CKR_FUNCTION_REJECTED"; rule = (r < 0.04 ? "M1" : (r < 0.05 ? "M4" : "M12")); detail = "policy" }
            else if (r < 0.10) { ev = "pin_failure"; out = "CKR_PIN_INCORRECT"; detail = "user PIN: 2 tries left"; cert = 0 }
            else if (r < 0.105) { ev = "pin_locked"; out = "CKR_PIN_LOCKED"; detail = "user PIN"; cert = 0 }
            else if (r < 0.12) { ev = "decrypt" }
            s = t0 + int((i - 1) * (span / n));
            ms = (i * 37) % 1000;
            tm = strftime("%Y-%m-%dT%H:%M:%S", s, 1) sprintf(".%03dZ", ms);
            line = sprintf("{\"v\":1,\"seq\":%d,\"time\":\"%s\",\"event\":\"%s\",\"host\":\"pc-%02d\",\"user\":\"u%d\",\"uid\":%d,\"pid\":%d,\"exe\":\"/usr/bin/%s\",\"program\":\"%s\",\"module\":\"0.1.0\",\"reader\":\"Kyso Virtual Reader 00 00\",\"token\":\"%s\"", i, tm, ev, p, p, 1000 + p, 4000 + i % 30000, pr, pr, tok);
            if (cert)
                line = line sprintf(",\"key\":\"81\",\"cert\":{\"sha256\":\"%064x\",\"serial\":\"%032x\",\"subject\":\"emailAddress=u%d@gov.vn.invalid,UID=CCCD:%012d,CN=%s,title=%s,O=%s,C=VN\",\"title\":\"%s\",\"issuer\":\"%s\",\"organization\":\"%s\",\"not_after\":\"2028-12-31T23:59:59Z\"},\"mechanism\":\"CKM_SHA256_RSA_PKCS\",\"input_len\":%d,\"input_sha256\":\"%s\"", p + 1, p + 7, p, p, name, title[p % 5 + 1], org[o], title[p % 5 + 1], issuer, org[o], 100 + i % 9000, zero);
            line = line sprintf(",\"outcome\":\"%s\"", out);
            if (rule != "") line = line sprintf(",\"rule\":\"%s\"", rule);
            if (detail != "") line = line sprintf(",\"detail\":\"%s\"", detail);
            print line ",\"prev\":\"" zero "\",\"mac\":\"" zero "\"}";
        }
    }'
