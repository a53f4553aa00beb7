// A sync's runs as charts: members in Braze after each run, and added / removed / skipped / failed per run.
import dayjs from 'dayjs';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { Run } from '../api/types';

export default function SyncCharts({ runs }: { runs: Run[] }) {
  // Oldest first; "size" is what the runs left in Braze: acknowledged adds minus removes, run after run.
  let size = 0;
  const data = [...runs]
    .filter((r) => r.status === 'succeeded' || r.status === 'failed')
    .reverse()
    .map((r) => {
      size += r.counts.added - r.counts.removed;
      return { label: dayjs(r.queuedAt).format('MM-DD HH:mm'), size, ...r.counts };
    });
  return (
    <div style={{ display: 'grid', gridTemplateColumns: '1fr 1fr', gap: 16 }}>
      <div style={{ height: 200 }} role="img" aria-label="Members in Braze after each run">
        <ResponsiveContainer>
          <LineChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -10 }}>
            <CartesianGrid strokeDasharray="3 3" />
            <XAxis dataKey="label" fontSize={11} />
            <YAxis fontSize={11} allowDecimals={false} />
            <Tooltip />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Line dataKey="size" name="Members in Braze" stroke="#4c6ef5" isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div style={{ height: 200 }} role="img" aria-label="Added, removed, skipped and failed per run">
        <ResponsiveContainer>
          <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -10 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" fontSize={11} />
            <YAxis fontSize={11} allowDecimals={false} />
            <Tooltip />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            <Bar dataKey="added" name="Added" fill="#40c057" isAnimationActive={false} />
            <Bar dataKey="removed" name="Removed" fill="#fd7e14" isAnimationActive={false} />
            <Bar dataKey="skipped" name="Skipped" fill="#adb5bd" isAnimationActive={false} />
            <Bar dataKey="failed" name="Failed" fill="#fa5252" isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
}
