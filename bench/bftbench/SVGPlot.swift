import Foundation

/// Two small chart kinds as self-contained SVG text: no plotting dependency for two pictures.
enum SVGPlot {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    static let width = 720.0
    static let height = 500.0
    static let margin = (left: 80.0, right: 200.0, top: 40.0, bottom: 120.0)

    /// A value axis: linear from 0, or logarithmic over whole decades (latencies that span 1 ms to 1 s).
    struct Scale {
        var low: Double
        var high: Double
        var logarithmic: Bool

        static func linear(max: Double) -> Scale { Scale(low: 0, high: niceCeiling(max), logarithmic: false) }

        static func decades(_ values: [Double]) -> Scale {
            let positive = values.filter { $0 > 0 }
            let low = pow(10, floor(log10(positive.min() ?? 1)))
            let high = max(low * 10, pow(10, ceil(log10(positive.max() ?? 10))))
            return Scale(low: low, high: high, logarithmic: true)
        }

        /// Where `value` falls, from 0 (low) to 1 (high).
        func fraction(_ value: Double) -> Double {
            guard logarithmic else { return value / high }
            return (log10(Swift.max(value, low)) - log10(low)) / (log10(high) - log10(low))
        }

        var ticks: [Double] {
            guard logarithmic else { return (0...5).map { high * Double($0) / 5 } }
            return stride(from: log10(low), through: log10(high) + 0.001, by: 1).map { pow(10, $0) }
        }
    }

    /// Throughput-latency curves: one polyline per series, points in the order given (growing load); the latency
    /// axis is logarithmic.
    static func lines(title: String, xLabel: String, yLabel: String, series: [Series]) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }
        let xMax = niceCeiling(xs.max() ?? 1)
        let scale = Scale.decades(series.flatMap { $0.points.map(\.y) })
        var body = axes(title: title, xLabel: xLabel, yLabel: yLabel + " (log scale)", xMax: xMax, scale: scale)
        for (index, line) in series.enumerated() {
            let colour = palette[index % palette.count]
            let points = line.points.map { "\(fmt(xPosition($0.x, xMax))),\(fmt(yPosition($0.y, scale)))" }
            body += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            for point in line.points {
                body += "<circle cx=\"\(fmt(xPosition(point.x, xMax)))\" cy=\"\(fmt(yPosition(point.y, scale)))\" "
                    + "r=\"3.5\" fill=\"\(colour)\"/>\n"
            }
            body += legend(index, line.name, colour)
        }
        return document(body)
    }

    /// Grouped bars: one group per category, one bar per series (values in the categories' order).
    static func bars(title: String, yLabel: String, categories: [String], series: [Series]) -> String {
        let scale = Scale.linear(max: series.flatMap { $0.points.map(\.y) }.max() ?? 1)
        var body = axes(title: title, xLabel: "", yLabel: yLabel, xMax: nil, scale: scale)
        let plotWidth = width - margin.left - margin.right
        let groupWidth = plotWidth / Double(max(1, categories.count))
        let barWidth = groupWidth * 0.8 / Double(max(1, series.count))
        for (index, category) in categories.enumerated() {
            let left = margin.left + Double(index) * groupWidth + groupWidth * 0.1
            let labelX = left + groupWidth * 0.5
            let labelY = height - margin.bottom + 14
            body += "<text x=\"\(fmt(labelX))\" y=\"\(fmt(labelY))\" font-size=\"10\" text-anchor=\"end\" "
                + "transform=\"rotate(-40 \(fmt(labelX)) \(fmt(labelY)))\">\(escape(category))</text>\n"
            for (s, line) in series.enumerated() where index < line.points.count {
                let value = line.points[index].y
                let top = yPosition(value, scale)
                body += "<rect x=\"\(fmt(left + Double(s) * barWidth))\" y=\"\(fmt(top))\" width=\"\(fmt(barWidth - 1))\" "
                    + "height=\"\(fmt(height - margin.bottom - top))\" fill=\"\(palette[s % palette.count])\"/>\n"
            }
        }
        for (s, line) in series.enumerated() { body += legend(s, line.name, palette[s % palette.count]) }
        return document(body)
    }

    // MARK: Pieces

    private static func xPosition(_ x: Double, _ xMax: Double) -> Double {
        margin.left + x / xMax * (width - margin.left - margin.right)
    }

    private static func yPosition(_ y: Double, _ scale: Scale) -> Double {
        height - margin.bottom - scale.fraction(y) * (height - margin.top - margin.bottom)
    }

    private static func axes(title: String, xLabel: String, yLabel: String, xMax: Double?, scale: Scale) -> String {
        let bottom = height - margin.bottom
        let right = width - margin.right
        var text = "<text x=\"\(fmt(width / 2))\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">\(escape(title))</text>\n"
        text += "<line x1=\"\(fmt(margin.left))\" y1=\"\(fmt(bottom))\" x2=\"\(fmt(right))\" y2=\"\(fmt(bottom))\" stroke=\"black\"/>\n"
        text += "<line x1=\"\(fmt(margin.left))\" y1=\"\(fmt(margin.top))\" x2=\"\(fmt(margin.left))\" y2=\"\(fmt(bottom))\" stroke=\"black\"/>\n"
        for value in scale.ticks {
            let y = yPosition(value, scale)
            text += "<line x1=\"\(fmt(margin.left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(right))\" y2=\"\(fmt(y))\" stroke=\"#ddd\"/>\n"
            text += "<text x=\"\(fmt(margin.left - 6))\" y=\"\(fmt(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(label(value))</text>\n"
        }
        if let xMax {
            for step in 0...5 {
                let xValue = xMax * Double(step) / 5
                let x = xPosition(xValue, xMax)
                text += "<text x=\"\(fmt(x))\" y=\"\(fmt(bottom + 16))\" font-size=\"11\" text-anchor=\"middle\">\(label(xValue))</text>\n"
            }
        }
        text += "<text x=\"\(fmt((margin.left + right) / 2))\" y=\"\(fmt(height - 14))\" font-size=\"12\" "
            + "text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        text += "<text x=\"18\" y=\"\(fmt((margin.top + bottom) / 2))\" font-size=\"12\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 18 \(fmt((margin.top + bottom) / 2)))\">\(escape(yLabel))</text>\n"
        return text
    }

    private static func legend(_ index: Int, _ name: String, _ colour: String) -> String {
        let x = width - margin.right + 16
        let y = margin.top + 10 + Double(index) * 20
        return "<rect x=\"\(fmt(x))\" y=\"\(fmt(y - 9))\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>"
            + "<text x=\"\(fmt(x + 18))\" y=\"\(fmt(y + 1))\" font-size=\"12\">\(escape(name))</text>\n"
    }

    private static func document(_ body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }

    /// The smallest 1, 2 or 5 times a power of ten at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * power >= value { return factor * power }
        return 10 * power
    }

    private static func label(_ value: Double) -> String {
        value >= 1000 ? "\(fmt(value / 1000))k" : fmt(value)
    }

    private static func fmt(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
