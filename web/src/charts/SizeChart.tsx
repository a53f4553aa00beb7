// Loaded lazily: recharts is most of the bundle and only these pages draw charts.
import dayjs from 'dayjs';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export default function SizeChart({ points }: { points: { at: string; size: number }[] }) {
  const data = points.map((p) => ({ ...p, label: dayjs(p.at).format('MM-DD HH:mm') }));
  return (
    <div style={{ width: '100%', height: 220 }} role="img" aria-label="Cohort size over time">
      <ResponsiveContainer>
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" fontSize={12} />
          <YAxis fontSize={12} allowDecimals={false} />
          <Tooltip />
          <Line type="monotone" dataKey="size" name="Size" stroke="#4c6ef5" dot={false} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
