package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Column groups of flows. Geo, tags and attrs are NULL for most rows (no
// geoip stage, no tagging rules), so SQLite rows are written by the
// statement that names only the groups a row has: binding a parameter
// costs about as much as storing it.
const (
	flowClientGeo = 1 << iota
	flowServerGeo
	flowExtras
	flowAllCols = flowClientGeo | flowServerGeo | flowExtras
)

var (
	flowBaseCols = []string{"id", "probe", "flow_id", "proto", "client_ip", "client_port", "server_ip", "server_port", "vlan",
		"first_seen", "last_seen", "c2s_packets", "c2s_bytes", "s2c_packets", "s2c_bytes", "tcp_state", "flags_c2s", "flags_s2c", "rtt_ns", "end_reason"}
	geoColNames = []string{"geo_label", "cc", "country", "city", "lat", "lon", "asn", "as_org"}
)

// flowColumnList lists the columns of a group mask, in appendFlowArgs order.
func flowColumnList(mask int) []string {
	cols := append([]string(nil), flowBaseCols...)
	if mask&flowClientGeo != 0 {
		for _, c := range geoColNames {
			cols = append(cols, "client_"+c)
		}
	}
	if mask&flowServerGeo != 0 {
		for _, c := range geoColNames {
			cols = append(cols, "server_"+c)
		}
	}
	if mask&flowExtras != 0 {
		cols = append(cols, "tags", "attrs")
	}
	return cols
}

var (
	allFlowColumns    = strings.Join(flowColumnList(flowAllCols), ", ")
	allFlowNumColumns = len(flowColumnList(flowAllCols))
)

// flowMask says which optional groups a row needs.
func flowMask(f *Flow) int {
	m := 0
	if f.Client != (GeoCols{}) {
		m |= flowClientGeo
	}
	if f.Server != (GeoCols{}) {
		m |= flowServerGeo
	}
	if f.Tags != "" || f.Attrs != "" {
		m |= flowExtras
	}
	return m
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullNum[T int64 | float64](v T) any {
	if v == 0 {
		return nil
	}
	return v
}

func appendGeoArgs(args []any, g *GeoCols) []any {
	return append(args, nullStr(g.Label), nullStr(g.CountryCode), nullStr(g.Country), nullStr(g.City),
		nullNum(g.Lat), nullNum(g.Lon), nullNum(g.ASN), nullStr(g.ASOrg))
}

// appendFlowArgs appends the values of the columns of mask.
func appendFlowArgs(args []any, f *Flow, mask int) []any {
	args = append(args, f.ID, f.Probe, f.FlowID, int64(f.Proto), f.ClientIP, int64(f.ClientPort), f.ServerIP, int64(f.ServerPort), int64(f.VLAN),
		f.FirstSeen, f.LastSeen, f.C2SPackets, f.C2SBytes, f.S2CPackets, f.S2CBytes, nullStr(f.TCPState), int64(f.FlagsC2S), int64(f.FlagsS2C), f.RTTNanos, nullStr(f.EndReason))
	if mask&flowClientGeo != 0 {
		args = appendGeoArgs(args, &f.Client)
	}
	if mask&flowServerGeo != 0 {
		args = appendGeoArgs(args, &f.Server)
	}
	if mask&flowExtras != 0 {
		args = append(args, nullStr(f.Tags), nullStr(f.Attrs))
	}
	return args
}

// insertFlowsSingle writes flows to SQLite with prepared single-row
// statements executed on the driver connection. bun's bulk INSERT formats
// every value into the SQL text, which SQLite must then parse, and the
// SQLite driver binds positional parameters in quadratic time; a prepared
// statement of one row was measured several times faster than either
// multi-row form, and skipping database/sql's per-call argument
// conversion and locking saves a further fifth.
func (s *Store) insertFlowsSingle(ctx context.Context, conn *sql.Conn, flows []Flow) error {
	return conn.Raw(func(dc any) error {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver %T cannot prepare statements", dc)
		}
		var stmts [flowAllCols + 1]driver.StmtExecContext
		defer func() {
			for _, st := range stmts {
				if st != nil {
					st.(driver.Stmt).Close()
				}
			}
		}()
		args := make([]any, 0, allFlowNumColumns)
		named := make([]driver.NamedValue, 0, allFlowNumColumns)
		for i := range flows {
			f := &flows[i]
			m := flowMask(f)
			if stmts[m] == nil {
				cols := flowColumnList(m)
				q := "INSERT INTO flows (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
				st, err := prep.PrepareContext(ctx, q)
				if err != nil {
					return err
				}
				se, ok := st.(driver.StmtExecContext)
				if !ok {
					st.Close()
					return fmt.Errorf("driver statement %T cannot execute with a context", st)
				}
				stmts[m] = se
			}
			args = appendFlowArgs(args[:0], f, m)
			named = named[:0]
			for j, a := range args {
				named = append(named, driver.NamedValue{Ordinal: j + 1, Value: a})
			}
			if _, err := stmts[m].ExecContext(ctx, named); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyFlows writes flows to PostgreSQL with COPY, on the connection that
// holds the transaction: one round trip for the whole batch, and no SQL
// text to parse. Measured at several times the rate of multi-row INSERTs
// through database/sql.
func (s *Store) copyFlows(ctx context.Context, conn *sql.Conn, flows []Flow) error {
	cols := flowColumnList(flowAllCols)
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver %T is not pgx", dc)
		}
		row := make([]any, 0, len(cols))
		src := pgx.CopyFromFunc(func() func() ([]any, error) {
			i := 0
			return func() ([]any, error) {
				if i == len(flows) {
					return nil, nil
				}
				row = appendFlowArgs(row[:0], &flows[i], flowAllCols)
				i++
				return row, nil
			}
		}())
		n, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{"flows"}, cols, src)
		if err == nil && n != int64(len(flows)) {
			err = fmt.Errorf("copied %d of %d flows", n, len(flows))
		}
		return err
	})
}
